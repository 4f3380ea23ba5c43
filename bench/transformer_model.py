"""The model for `npm run bench:transformer`: a BERT-base-shaped encoder (12 layers of 768, 12 heads,
MLP 3072, vocabulary 30522, 512 positions; TinyBert in scripts/fixtures/make_shrink_fixtures.py,
Hugging Face's BertModel written out) exported by PyTorch with dynamic batch and sequence axes at
opset 14, as transformers' exporters write it.

Usage: /usr/bin/python3 bench/transformer_model.py OUT.onnx
Weights initialised as BertModel's `_init_weights` does (normal, std 0.02, for every Linear and
Embedding weight; biases 0), then LayerNorms randomised so the normalisations are not identities.
With one initialiser for every matrix, global magnitude pruning spreads over the layers as it does
on a trained BERT, instead of emptying the layers that PyTorch's default fan-in init makes smaller.
Seed 0; nothing is downloaded.
"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'scripts', 'fixtures'))
from make_shrink_fixtures import TinyBert, randomize_layer_norms  # noqa: E402

torch.set_num_threads(1)
path = sys.argv[1]
os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
torch.manual_seed(0)
bert = TinyBert(vocab=30522, positions=512, d=768, heads=12, hidden=3072, layers=12).eval()
with torch.no_grad():
    for m in bert.modules():
        if isinstance(m, (torch.nn.Linear, torch.nn.Embedding)):
            m.weight.normal_(0, 0.02)
            if getattr(m, 'bias', None) is not None:
                m.bias.zero_()
randomize_layer_norms(bert, 0)
ids = torch.randint(0, 30522, (1, 128))
mask = torch.ones(1, 128, dtype=torch.long)
names = dict(input_names=['input_ids', 'attention_mask'], output_names=['last_hidden_state'])
axes = {n: {0: 'batch', 1: 'sequence'} for n in names['input_names'] + names['output_names']}
tmp = path + '.tmp'
torch.onnx.export(bert, (ids, mask), tmp, opset_version=14, do_constant_folding=True, dynamic_axes=axes, **names)
os.replace(tmp, path)
print(f'{path}: {os.path.getsize(path)} bytes')

"""Models for `npm run bench:shrink`: torchvision ResNet-18 and MobileNetV2 at 1x3x224x224, and a
BERT-base-shaped encoder (12 layers of 768, 12 heads, MLP 3072, vocabulary 30522, 512 positions;
Hugging Face's BertModel written out, as TinyBert in scripts/fixtures/make_shrink_fixtures.py)
exported with dynamic batch and sequence axes at opset 14.

Usage: /usr/bin/python3 bench/shrink_models.py OUT_DIR [NAME ...]   (names: resnet18 mobilenet_v2 bert_base; default all)
Random weights (seed 0), BatchNorm statistics randomised, exported as torch.onnx.export does by
default (opset 13, eval mode: BatchNorm folded into the Conv before it). Nothing is downloaded.
"""
import os
import sys

import torch
import torchvision

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'scripts', 'fixtures'))
from make_shrink_fixtures import TinyBert, randomize_layer_norms  # noqa: E402

torch.set_num_threads(1)
out = sys.argv[1]
wanted = set(sys.argv[2:]) or {'resnet18', 'mobilenet_v2', 'bert_base'}
os.makedirs(out, exist_ok=True)
for name, make in [('resnet18', torchvision.models.resnet18), ('mobilenet_v2', torchvision.models.mobilenet_v2)]:
    path = os.path.join(out, f'{name}.onnx')
    if name not in wanted or os.path.exists(path):
        continue
    torch.manual_seed(0)
    m = make()
    for b in m.modules():
        if isinstance(b, torch.nn.BatchNorm2d):
            with torch.no_grad():
                b.running_mean.normal_(0, 0.5)
                b.running_var.uniform_(0.5, 2)
                b.weight.uniform_(0.5, 1.5)
                b.bias.normal_(0, 0.5)
    m.eval()
    torch.onnx.export(m, torch.randn(1, 3, 224, 224), path, input_names=['input'], output_names=['logits'], opset_version=13)
    print(f'{path}: {os.path.getsize(path)} bytes')

path = os.path.join(out, 'bert_base.onnx')
if 'bert_base' in wanted and not os.path.exists(path):
    torch.manual_seed(0)
    bert = TinyBert(vocab=30522, positions=512, d=768, heads=12, hidden=3072, layers=12).eval()
    randomize_layer_norms(bert, 0)
    ids = torch.randint(0, 30522, (1, 128))
    mask = torch.ones(1, 128, dtype=torch.long)
    names = dict(input_names=['input_ids', 'attention_mask'], output_names=['last_hidden_state'])
    axes = {n: {0: 'batch', 1: 'sequence'} for n in names['input_names'] + names['output_names']}
    torch.onnx.export(bert, (ids, mask), path, opset_version=14, do_constant_folding=True, dynamic_axes=axes, **names)
    print(f'{path}: {os.path.getsize(path)} bytes')

#!/usr/bin/env python3
"""The peer of bench:sparsegpt: sequential SparseGPT at 50% on the same GPT-2-small-shaped model
(scripts/fixtures/make_gpt.py's GPT, random weights, seed 0), written from the paper's algorithm
as the reference code runs it: block by block (here: stage by stage inside each block, qkv → attn
proj → MLP up → MLP down, the "true sequential" order sculpt uses), each stage's H = XᵀX from the
outputs of the stages already pruned, dampening 1% of mean(diag H), upper Cholesky factor of H⁻¹,
blocks of 128 columns with lazy batch updates, mask per block by w²/U_jj². Prints one line.
"""
import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), '..', 'scripts', 'fixtures'))
from make_gpt import GPT, gelu_new  # noqa: E402


def sparsegpt_prune(W, H, sparsity, blocksize=128, percdamp=0.01):
    """W [out, in] (float32), H [in, in]: prunes W in place."""
    W = W.clone().float()
    cols = W.shape[1]
    dead = torch.diag(H) == 0
    H[dead, dead] = 1
    W[:, dead] = 0
    H += percdamp * torch.mean(torch.diag(H)) * torch.eye(cols)
    H = torch.linalg.cholesky(H)
    H = torch.cholesky_inverse(H)
    Hinv = torch.linalg.cholesky(H, upper=True)
    for i1 in range(0, cols, blocksize):
        i2 = min(i1 + blocksize, cols)
        W1 = W[:, i1:i2].clone()
        Q1 = torch.zeros_like(W1)
        Err1 = torch.zeros_like(W1)
        Hinv1 = Hinv[i1:i2, i1:i2]
        tmp = W1 ** 2 / (torch.diag(Hinv1).reshape((1, -1))) ** 2
        thresh = torch.sort(tmp.flatten())[0][int(tmp.numel() * sparsity)]
        mask1 = tmp <= thresh
        for i in range(i2 - i1):
            w = W1[:, i]
            d = Hinv1[i, i]
            q = w.clone()
            q[mask1[:, i]] = 0
            err = (w - q) / d
            W1[:, i:] -= err.unsqueeze(1).matmul(Hinv1[i, i:].unsqueeze(0))
            Q1[:, i] = q
            Err1[:, i] = err
        W[:, i1:i2] = Q1
        W[:, i2:] -= Err1.matmul(Hinv[i1:i2, i2:])
    return W


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--text', required=True)
    ap.add_argument('--samples', type=int, default=128)
    ap.add_argument('--seq-len', type=int, default=128)
    ap.add_argument('--threads', type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    t0 = time.time()
    model = GPT(50257, 768, 12, 12, 1024).eval()
    ids = list(open(a.text, 'rb').read())
    n, L = a.samples, a.seq_len
    x = torch.tensor(ids[: n * L]).view(n, L)
    t1 = time.time()
    pruned = 0
    total = 0
    with torch.no_grad():
        pos = torch.arange(L).unsqueeze(0)
        h = model.wte(x) + model.wpe(pos)
        mask_add = torch.zeros(n, 1, 1, L)
        for blk in model.h:
            layers = [blk.attn.c_attn, blk.attn.c_proj, blk.mlp.c_fc, blk.mlp.c_proj]
            for li, lin in enumerate(layers):
                H = torch.zeros(lin.weight.shape[0], lin.weight.shape[0], dtype=torch.float64)

                def hook(_m, inp, _out, H=H):
                    xi = inp[0].reshape(-1, inp[0].shape[-1]).float()
                    H.add_((xi.t() @ xi).double())
                handle = lin.register_forward_hook(hook)
                for b in range(0, n, 8):
                    blk(h[b:b + 8], mask_add[b:b + 8])
                handle.remove()
                Wt = sparsegpt_prune(lin.weight.data.t(), H.float(), 0.5)  # Conv1D weight is [in, out]
                lin.weight.data = Wt.t().contiguous()
                pruned += int((Wt == 0).sum())
                total += Wt.numel()
            h = torch.cat([blk(h[b:b + 8], mask_add[b:b + 8]) for b in range(0, n, 8)])
    t2 = time.time()
    print(f'torch {torch.__version__} threads {a.threads}: build {t1 - t0:.1f} s, sequential sparsegpt {t2 - t1:.1f} s, pruned {pruned}/{total} ({pruned / total:.4f})')


if __name__ == '__main__':
    main()

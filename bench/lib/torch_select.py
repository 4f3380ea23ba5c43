"""PyTorch side of bench/select.mjs: load a float32 safetensors file into nn.Parameters and time
torch.nn.utils.prune.global_unstructured(L1Unstructured, amount) over all of them.

Usage: /usr/bin/python3 bench/lib/torch_select.py <file.safetensors> <amount>
Prints one JSON line: load_s, prune_s, pruned, total, threads, torch, blas (the BLAS libraries
mapped into the process, e.g. OpenBLAS from openblas-pthread), maxrss_bytes.
"""
import json
import os
import re
import resource
import struct
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.utils.prune as prune


def load(path):
    with open(path, 'rb') as f:
        n = struct.unpack('<Q', f.read(8))[0]
        header = json.loads(f.read(n))
    base = 8 + n
    modules = []
    for name, h in header.items():
        if name == '__metadata__':
            continue
        assert h['dtype'] == 'F32', (name, h['dtype'])
        start, end = h['data_offsets']
        arr = np.fromfile(path, dtype='<f4', count=(end - start) // 4, offset=base + start)
        m = nn.Module()
        m.weight = nn.Parameter(torch.from_numpy(arr).reshape(h['shape']), requires_grad=False)
        modules.append(m)
    return modules


def blas_libraries():
    """BLAS/LAPACK shared libraries this process has mapped (which one Debian's alternatives chose)."""
    try:
        with open('/proc/self/maps') as f:
            paths = set(re.findall(r'(/\S*(?:blas|lapack)\S*)', f.read()))
    except OSError:
        return []
    return sorted(os.path.relpath(p, '/usr/lib') if p.startswith('/usr/lib/') else p for p in paths)


def main():
    path, amount = sys.argv[1], float(sys.argv[2])
    t0 = time.perf_counter()
    modules = load(path)
    t1 = time.perf_counter()
    prune.global_unstructured([(m, 'weight') for m in modules], pruning_method=prune.L1Unstructured, amount=amount)
    t2 = time.perf_counter()
    total = sum(m.weight_mask.numel() for m in modules)
    pruned = sum(int((m.weight_mask == 0).sum()) for m in modules)
    print(json.dumps({
        'load_s': t1 - t0, 'prune_s': t2 - t1, 'pruned': pruned, 'total': total,
        'threads': torch.get_num_threads(), 'torch': torch.__version__, 'blas': blas_libraries(),
        'maxrss_bytes': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }))


if __name__ == '__main__':
    main()

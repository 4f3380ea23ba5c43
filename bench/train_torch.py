"""PyTorch peer of `npm run bench:train`: one epoch of LeNet-300-100 on Fashion-MNIST (Adam, lr
1.2e-3, batch 60, shuffled), then test accuracy; the whole process is timed by the caller.
Usage: /usr/bin/python3 bench/train_torch.py DATA_DIR THREADS"""
import gzip
import sys
import time

import numpy as np
import torch

t0 = time.time()
data_dir, threads = sys.argv[1], int(sys.argv[2])
torch.set_num_threads(threads)
torch.manual_seed(0)


def idx(path):
    with gzip.open(path, 'rb') as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], 'big') for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


xtr = torch.from_numpy(idx(f'{data_dir}/train-images-idx3-ubyte.gz').reshape(-1, 784).astype(np.float32) / 255)
ytr = torch.from_numpy(idx(f'{data_dir}/train-labels-idx1-ubyte.gz').astype(np.int64))
xte = torch.from_numpy(idx(f'{data_dir}/t10k-images-idx3-ubyte.gz').reshape(-1, 784).astype(np.float32) / 255)
yte = torch.from_numpy(idx(f'{data_dir}/t10k-labels-idx1-ubyte.gz').astype(np.int64))
loaded = time.time()

model = torch.nn.Sequential(torch.nn.Linear(784, 300), torch.nn.ReLU(), torch.nn.Linear(300, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
opt = torch.optim.Adam(model.parameters(), lr=1.2e-3)
loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(xtr, ytr), batch_size=60, shuffle=True)
loss_fn = torch.nn.CrossEntropyLoss()
model.train()
for x, y in loader:
    opt.zero_grad()
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
trained = time.time()
model.eval()
with torch.no_grad():
    acc = (model(xte).argmax(1) == yte).float().mean().item()
print(f'torch {torch.__version__} threads {threads} load {loaded - t0:.2f} s train {trained - loaded:.2f} s test accuracy {acc:.4f}')

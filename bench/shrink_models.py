"""Models for `npm run bench:shrink`: torchvision ResNet-18 and MobileNetV2 at 1x3x224x224.

Usage: /usr/bin/python3 bench/shrink_models.py OUT_DIR
Random weights (seed 0), BatchNorm statistics randomised, exported as torch.onnx.export does by
default (opset 13, eval mode: BatchNorm folded into the Conv before it). Nothing is downloaded.
"""
import os
import sys

import torch
import torchvision

torch.set_num_threads(1)
out = sys.argv[1]
os.makedirs(out, exist_ok=True)
for name, make in [('resnet18', torchvision.models.resnet18), ('mobilenet_v2', torchvision.models.mobilenet_v2)]:
    path = os.path.join(out, f'{name}.onnx')
    if os.path.exists(path):
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

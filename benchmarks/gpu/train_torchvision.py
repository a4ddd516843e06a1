"""A short, real torchvision training for recording with ``dlenergy measure`` (issue 7's GPU check).

Trains a torchvision model from scratch on a synthetic, learnable image set (class-dependent
patterns plus noise, generated on the device from a seed: no download, nothing read from disk), with
a hand-written loop that calls the plain markers :func:`dlenergy.mark_train_start` once the data
and model are ready and :func:`dlenergy.mark_epoch` after every epoch, as a practitioner's own loop
would.  Outside ``dlenergy measure`` the marker warns once and does nothing.

    python benchmarks/gpu/train_torchvision.py --model resnet18 --epochs 22
    python benchmarks/gpu/train_torchvision.py --model resnet18 --print-gflops   # for runs.csv

Needs torch and torchvision (not dependencies of dlenergy).
"""

from __future__ import annotations

import argparse
import time

import torch
import torchvision

import dlenergy


def parse(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="resnet18", help="a torchvision.models builder name (weights=None)")
    ap.add_argument("--epochs", type=int, default=22)
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--image-size", type=int, default=96)
    ap.add_argument("--train-size", type=int, default=6144)
    ap.add_argument("--val-size", type=int, default=2048)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--lr", type=float, default=0.05)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto", help="auto (cuda when available) | cuda | cpu")
    ap.add_argument(
        "--print-gflops",
        action="store_true",
        help="print the model's forward GFLOPs for one image (multiply-adds x 2) and exit",
    )
    return ap.parse_args(argv)


def build(name: str, classes: int) -> torch.nn.Module:
    return torchvision.models.get_model(name, weights=None, num_classes=classes)


def forward_gflops(model: torch.nn.Module, image_size: int) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    model.eval()
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 3, image_size, image_size))
    return fc.get_total_flops() / 1e9


def class_patterns(classes: int, size: int, gen: torch.Generator, device) -> torch.Tensor:
    """A fixed random pattern per class (low resolution, upsampled)."""
    patterns = torch.randn(classes, 3, 8, 8, generator=gen).to(device)
    return torch.nn.functional.interpolate(patterns, size=(size, size), mode="bilinear", align_corners=False)


def synthetic(n: int, patterns: torch.Tensor, gen: torch.Generator, device) -> tuple[torch.Tensor, torch.Tensor]:
    """Images = their class's pattern + noise."""
    classes, _, size, _ = patterns.shape
    y = torch.randint(0, classes, (n,), generator=gen).to(device)
    x = patterns[y] + 0.8 * torch.randn(n, 3, size, size, generator=gen).to(device)
    return x, y


def main(argv=None) -> int:
    a = parse(argv)
    model = build(a.model, a.classes)
    if a.print_gflops:
        print(f"{forward_gflops(model, a.image_size):.4f}")
        return 0
    device = torch.device(
        "cuda" if a.device == "auto" and torch.cuda.is_available() else ("cpu" if a.device == "auto" else a.device)
    )
    torch.manual_seed(a.seed)
    gen = torch.Generator().manual_seed(a.seed)
    patterns = class_patterns(a.classes, a.image_size, gen, device)
    xtr, ytr = synthetic(a.train_size, patterns, gen, device)
    xva, yva = synthetic(a.val_size, patterns, gen, device)
    model = model.to(device)
    opt = torch.optim.SGD(model.parameters(), lr=a.lr, momentum=0.9, weight_decay=5e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    print(
        f"{a.model} on {device}: {a.train_size} training / {a.val_size} validation images of "
        f"{a.image_size}px, batch {a.batch_size}, {a.epochs} epochs",
        flush=True,
    )
    sync()
    dlenergy.mark_train_start()  # set-up done: the training window starts here, as the paper's train_start
    for epoch in range(a.epochs):
        t0 = time.time()
        model.train()
        order = torch.randperm(a.train_size, device=device)
        total = torch.zeros((), device=device)
        for i in range(0, a.train_size, a.batch_size):
            idx = order[i : i + a.batch_size]
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(model(xtr[idx]), ytr[idx])
            loss.backward()
            opt.step()
            total += loss.detach() * len(idx)
        model.eval()
        correct = torch.zeros((), device=device)
        with torch.no_grad():
            for i in range(0, a.val_size, a.batch_size):
                correct += (model(xva[i : i + a.batch_size]).argmax(1) == yva[i : i + a.batch_size]).sum()
        sync()  # the epoch ends when the GPU's work has ended, not when it was queued
        train_loss = float(total) / a.train_size
        val_acc = float(correct) / a.val_size
        dlenergy.mark_epoch(train_loss=round(train_loss, 5), val_acc=round(val_acc, 5))
        print(f"epoch {epoch:3d}  loss {train_loss:.4f}  val_acc {val_acc:.3f}  {time.time() - t0:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

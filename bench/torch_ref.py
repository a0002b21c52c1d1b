#!/usr/bin/env python3
"""PyTorch reference for bench/bench.ts: the same models, trained the same way.

The feed-forward VAE (vae.py, IFT6266 Week 9), the batch-normalized convnet
(normalized_convnet.py, Week 8) and the convolutional VAE (conv_vae.py, Week
11) as lib/models/ff_vae.ts, lib/models/bn_convnet.ts and
lib/models/conv_vae.ts build them, trained with SGD + Nesterov momentum on
random data of the right shapes, timed after a warm-up.

    /usr/bin/python3 bench/torch_ref.py --threads 2 --models ffvae_bs100,convnet_bs10
    /usr/bin/python3 bench/torch_ref.py --threads 2 --serve   # what bench.ts uses

The first form prints one JSON object. With --serve it reads one JSON request a
line from stdin and answers each with one JSON line, so that bench.ts can
interleave its own measurements with PyTorch's under the same machine load:

    {"op": "info"}
    {"op": "train", "model": "ffvae", "batch": 100, "seconds": 2, "steps": 0, "warmup": 2}
    {"op": "matmul", "size": 1000, "repeats": 5}
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F
from torch import nn


class FFVAE(nn.Module):
    """Linear + BatchNorm1d at every layer; ReLU.. tanh encoder, softplus sigma, hardtanh output."""

    def __init__(self, input_size=784, enc=(512, 512, 256), dec=(256, 512, 512), code=384):
        super().__init__()
        sizes = [input_size, *enc]
        self.enc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.enc_bn = nn.ModuleList(nn.BatchNorm1d(b) for b in sizes[1:])
        self.mu, self.mu_bn = nn.Linear(enc[-1], code), nn.BatchNorm1d(code)
        self.sigma, self.sigma_bn = nn.Linear(enc[-1], code), nn.BatchNorm1d(code)
        sizes = [code, *dec, input_size]
        self.dec = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))
        self.dec_bn = nn.ModuleList(nn.BatchNorm1d(b) for b in sizes[1:])

    def cost(self, x):
        h = x
        for i, (lin, bn) in enumerate(zip(self.enc, self.enc_bn)):
            h = bn(lin(h))
            h = torch.tanh(h) if i == len(self.enc) - 1 else F.relu(h)
        mu = self.mu_bn(self.mu(h))
        sigma = F.softplus(self.sigma_bn(self.sigma(h)))
        z = mu + sigma * torch.randn_like(mu)
        h = z
        for i, (lin, bn) in enumerate(zip(self.dec, self.dec_bn)):
            h = bn(lin(h))
            if i == len(self.dec) - 1:
                h = F.hardtanh(h)
            elif i > 0:
                h = F.relu(h)
        kl = -0.5 * torch.sum(2 * torch.log(sigma + 1e-12) - sigma**2 - mu**2 + 1)
        return kl + torch.sum((x - h) ** 2)


class BNConvNet(nn.Module):
    """Three conv + BN + ReLU + 2x2 max-pool stages, dense 512-128-16 with BN, 2 classes."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleList(
            [nn.Conv2d(3, 32, 3, stride=2), nn.Conv2d(32, 64, 2), nn.Conv2d(64, 128, 2)]
        )
        self.conv_bns = nn.ModuleList(nn.BatchNorm2d(c) for c in (32, 64, 128))
        self.fc = nn.ModuleList([nn.Linear(512, 128), nn.Linear(128, 16)])
        self.fc_bns = nn.ModuleList(nn.BatchNorm1d(c) for c in (128, 16))
        self.out = nn.Linear(16, 2)

    def cost(self, x, labels):
        h = x
        for conv, bn in zip(self.convs, self.conv_bns):
            h = F.max_pool2d(F.relu(bn(conv(h))), 2)
        h = h.flatten(1)
        for fc, bn in zip(self.fc, self.fc_bns):
            h = F.relu(bn(fc(h)))
        return F.cross_entropy(self.out(h), labels)


class SeedBatchNorm(nn.Module):
    """The seed's batch norm: minibatch mean and biased std, (x - mean) / (std + 1e-6).

    Over every axis but the channels (axis 1), as lib/nn/batch_norm.ts; in
    training mode the population estimates take a moving average (momentum 0.1,
    unbiased variance) as ours do.
    """

    def __init__(self, features, eps=1e-6, momentum=0.1):
        super().__init__()
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(features))
        self.bias = nn.Parameter(torch.zeros(features))
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x):
        dims = [d for d in range(x.dim()) if d != 1]
        shape = [1, -1] + [1] * (x.dim() - 2)
        var, mean = torch.var_mean(x, dim=dims, unbiased=False)
        if self.training:
            with torch.no_grad():
                m = x.numel() // x.shape[1]
                a = self.momentum
                self.running_mean.mul_(1 - a).add_(mean, alpha=a)
                self.running_var.mul_(1 - a).add_(var, alpha=a * m / max(m - 1, 1))
        scale = self.weight / (var.sqrt() + self.eps)
        return (x - mean.view(shape)) * scale.view(shape) + self.bias.view(shape)


def depool_2d(x, factor=2):
    """The seed's zero insertion: each value at the top-left of a factor x factor block of zeros."""
    n, c, h, w = x.shape
    y = x.new_zeros(n, c, h, factor, w, factor)
    y[:, :, :, 0, :, 0] = x
    return y.view(n, c, h * factor, w * factor)


class ConvVAE(nn.Module):
    """conv_vae.py's main: "same" 3x3 convs 1-64-128 with BN, ReLU, 2x2 max pool; dense 6272-512
    (tanh); mu and softplus sigma heads of 512; dense 512-6272 (ReLU); depool + conv 128-64 (ReLU),
    depool + conv 64-1 (hard tanh); batch norm (std + 1e-6) after every layer; weights uniform in
    [-0.05, 0.05], biases 0."""

    def __init__(self, enc=(64, 128), hidden=512, code=512, dec=(128, 64), size=28, channels=1):
        super().__init__()
        self.side = size // 2 ** len(enc)
        chans = [channels, *enc]
        self.enc = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
        self.enc_bn = nn.ModuleList(SeedBatchNorm(b) for b in enc)
        flat = self.side * self.side * enc[-1]
        self.hidden, self.hidden_bn = nn.Linear(flat, hidden), SeedBatchNorm(hidden)
        self.mu, self.mu_bn = nn.Linear(hidden, code), SeedBatchNorm(code)
        self.sigma, self.sigma_bn = nn.Linear(hidden, code), SeedBatchNorm(code)
        self.dec_channels = dec[0]
        self.dec_dense = nn.Linear(code, self.side * self.side * dec[0])
        self.dec_dense_bn = SeedBatchNorm(self.side * self.side * dec[0])
        chans = [*dec, channels]
        self.dec = nn.ModuleList(nn.Conv2d(a, b, 3, padding=1) for a, b in zip(chans, chans[1:]))
        self.dec_bn = nn.ModuleList(SeedBatchNorm(b) for b in chans[1:])
        for mod in self.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                nn.init.uniform_(mod.weight, -0.05, 0.05)
                nn.init.zeros_(mod.bias)

    def cost(self, x):
        h = x
        for conv, bn in zip(self.enc, self.enc_bn):
            h = F.max_pool2d(F.relu(bn(conv(h))), 2)
        h = torch.tanh(self.hidden_bn(self.hidden(h.flatten(1))))
        mu = self.mu_bn(self.mu(h))
        sigma = F.softplus(self.sigma_bn(self.sigma(h)))
        z = mu + sigma * torch.randn_like(mu)
        h = F.relu(self.dec_dense_bn(self.dec_dense(z)))
        h = h.view(-1, self.dec_channels, self.side, self.side)
        for i, (conv, bn) in enumerate(zip(self.dec, self.dec_bn)):
            h = bn(conv(depool_2d(h)))
            h = F.hardtanh(h) if i == len(self.dec) - 1 else F.relu(h)
        kl = -0.5 * torch.sum(2 * torch.log(sigma + 1e-12) - sigma**2 - mu**2 + 1)
        return kl + torch.sum((x - h) ** 2)


def make_step(model_name, batch, seed=1):
    """Returns a function doing one training step on a fixed random batch."""
    torch.manual_seed(seed)
    if model_name == "ffvae":
        model = FFVAE()
        x = torch.rand(batch, 784)
        loss_fn = lambda: model.cost(x)  # noqa: E731
        lr = 0.1 / batch  # the seed's rate, divided by the batch size (summed cost)
    elif model_name == "convnet":
        model = BNConvNet()
        x = torch.randn(batch, 3, 48, 48)
        labels = torch.randint(0, 2, (batch,))
        loss_fn = lambda: model.cost(x, labels)  # noqa: E731
        lr = 0.01
    elif model_name == "convvae":
        model = ConvVAE()
        x = torch.rand(batch, 1, 28, 28)
        loss_fn = lambda: model.cost(x)  # noqa: E731
        lr = 0.01 / batch  # the seed's rate over the batch size (summed cost)
    else:
        raise SystemExit(
            f"torch_ref.py: unknown model {model_name!r}; use ffvae, convnet or convvae"
        )
    model.train()
    opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9, nesterov=True)

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn()
        loss.backward()
        opt.step()
        return loss.item()

    return step


# Warm-up lasts at least this long, so that the BLAS threads of the process
# timed just before (bench.ts's) have stopped spinning; as in bench/models.ts.
MIN_WARMUP_SECONDS = 0.25


def time_steps(step, seconds, steps, warmup):
    """Runs `warmup` steps, then `steps` steps (or steps until `seconds` passed, at least 3)."""
    w0 = time.perf_counter()
    for _ in range(warmup):
        step()
    while warmup > 0 and time.perf_counter() - w0 < MIN_WARMUP_SECONDS:
        step()
    n = 0
    t0 = time.perf_counter()
    while True:
        step()
        n += 1
        elapsed = time.perf_counter() - t0
        if (steps and n >= steps) or (not steps and n >= 3 and elapsed >= seconds):
            return n, elapsed


_steps = {}


def train(req):
    model, batch = req["model"], int(req["batch"])
    key = (model, batch)
    if key not in _steps:
        _steps[key] = make_step(model, batch)
    n, elapsed = time_steps(
        _steps[key], float(req.get("seconds", 2)), int(req.get("steps", 0)), int(req.get("warmup", 2))
    )
    return {
        "model": model,
        "batch": batch,
        "steps": n,
        "seconds": elapsed,
        "samples_per_s": n * batch / elapsed,
    }


def matmul(req):
    size, repeats = int(req.get("size", 1000)), int(req.get("repeats", 5))
    a, b = torch.randn(size, size), torch.randn(size, size)
    torch.mm(a, b)
    best = min(_timed(lambda: torch.mm(a, b)) for _ in range(repeats))
    return {"size": size, "gflops": 2 * size**3 / best / 1e9}


def _timed(fn):
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def loaded_blas():
    """Paths of the BLAS libraries this process loaded (from /proc/self/maps)."""
    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "blas" in line.lower()}
        return sorted(p for p in paths if p.startswith("/"))
    except OSError:
        return []


def info():
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "blas_libraries": loaded_blas(),
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE", ""),
    }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="torch.set_num_threads")
    p.add_argument(
        "--models", default="ffvae_bs100,ffvae_bs1000,convnet_bs10,convnet_bs100,convvae_bs128"
    )
    p.add_argument("--seconds", type=float, default=2.0, help="time each model at least this long")
    p.add_argument("--steps", type=int, default=0, help="time exactly this many steps instead")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--serve", action="store_true", help="answer JSON requests from stdin")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    ops = {"train": train, "matmul": matmul, "info": lambda _req: info()}
    if args.serve:
        for line in sys.stdin:
            if not line.strip():
                continue
            req = json.loads(line)
            try:
                out = ops[req["op"]](req)
            except Exception as e:  # report, keep serving
                out = {"error": f"{type(e).__name__}: {e}"}
            print(json.dumps(out), flush=True)
        return
    results = {}
    for name in args.models.split(","):
        model, _, bs = name.partition("_bs")
        results[name] = train(
            {"model": model, "batch": int(bs), "seconds": args.seconds, "steps": args.steps,
             "warmup": args.warmup}
        )
    print(json.dumps({**info(), "results": results}, indent=2))


if __name__ == "__main__":
    main()

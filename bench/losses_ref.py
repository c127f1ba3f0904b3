"""PyTorch reference timings for bench_losses: forward + backward of the same
losses as public implementations write them (VICReg as facebookresearch/vicreg,
NT-Xent as lightly, DIET as nn.Linear + CrossEntropy(label_smoothing), MSN as
facebookresearch/msn with me-max and Sinkhorn, Barlow Twins as
facebookresearch/barlowtwins, SimSiam's symmetric negative cosine as
facebookresearch/simsiam, DINO as facebookresearch/dino's DINOLoss with its centre update,
SwAV as facebookresearch/swav main_swav.py: normalised
crops, prototypes renormalised before the step, distributed_sinkhorn on one process).  Prints "row seconds" lines.
Run with /usr/bin/python3 (Debian's python3-torch).  Usage: losses_ref.py THREADS [REPS]
"""
import sys
import time

import torch
import torch.nn.functional as F

threads = int(sys.argv[1]) if len(sys.argv) > 1 else 1
reps = int(sys.argv[2]) if len(sys.argv) > 2 else 3
only = sys.argv[3].split(",") if len(sys.argv) > 3 else None
torch.set_num_threads(threads)
torch.manual_seed(0)


def off_diagonal(x):
    n = x.shape[0]
    return x.flatten()[:-1].view(n - 1, n + 1)[:, 1:].flatten()


def vicreg(x, y):
    n, d = x.shape
    repr_loss = F.mse_loss(x, y)
    x = x - x.mean(dim=0)
    y = y - y.mean(dim=0)
    std_x = torch.sqrt(x.var(dim=0) + 0.0001)
    std_y = torch.sqrt(y.var(dim=0) + 0.0001)
    std_loss = torch.mean(F.relu(1 - std_x)) / 2 + torch.mean(F.relu(1 - std_y)) / 2
    cov_x = (x.T @ x) / (n - 1)
    cov_y = (y.T @ y) / (n - 1)
    cov_loss = off_diagonal(cov_x).pow_(2).sum().div(d) + off_diagonal(cov_y).pow_(2).sum().div(d)
    return 25 * repr_loss + 25 * std_loss + cov_loss


def ntxent(a, b, tau=0.1):
    n = a.shape[0]
    a = F.normalize(a, dim=1)
    b = F.normalize(b, dim=1)
    z = torch.cat([a, b])
    s = z @ z.T / tau
    s = s.masked_fill(torch.eye(2 * n, dtype=torch.bool), float("-inf"))
    labels = torch.cat([torch.arange(n, 2 * n), torch.arange(0, n)])
    return F.cross_entropy(s, labels)


def diet(h, W, idx):
    return F.cross_entropy(h @ W.T, idx, label_smoothing=0.8)


def sinkhorn(Q, iters=3):
    Q = Q.T
    B = Q.shape[1]
    K = Q.shape[0]
    Q = Q / Q.sum()
    for _ in range(iters):
        Q = Q / Q.sum(dim=1, keepdim=True) / K
        Q = Q / Q.sum(dim=0, keepdim=True) / B
    return (Q * B).T


def msn(anchors, targets, protos, V):
    protos = F.normalize(protos, dim=1)
    a = F.normalize(anchors, dim=1)
    with torch.no_grad():
        t = F.normalize(targets, dim=1)
        T = F.softmax(t @ protos.T / 0.025, dim=1)
        T = sinkhorn(T)
        T = T.repeat(V, 1)
    logp = F.log_softmax(a @ protos.T / 0.1, dim=1)
    p = logp.exp()
    ce = torch.mean(torch.sum(-T * logp, dim=1))
    pbar = p.mean(dim=0)
    rloss = torch.sum(pbar * torch.log(pbar)) + torch.log(torch.tensor(float(len(pbar))))
    return ce + rloss


def barlow(z1, z2, bn, lambd=0.0051):
    c = bn(z1).T @ bn(z2)
    c.div_(z1.shape[0])
    on_diag = torch.diagonal(c).add_(-1).pow_(2).sum()
    off_diag = off_diagonal(c).pow_(2).sum()
    return on_diag + lambd * off_diag


def simsiam(p1, p2, z1, z2):
    cos = torch.nn.CosineSimilarity(dim=1)
    return -(cos(p1, z2.detach()).mean() + cos(p2, z1.detach()).mean()) * 0.5


class DINOLoss:
    """main_dino.py's forward and update_center (one process: no all-reduce)"""

    def __init__(self, K, ncrops, student_temp=0.1, teacher_temp=0.04, momentum=0.9):
        self.center = torch.zeros(1, K)
        self.ncrops, self.ts, self.tt, self.m = ncrops, student_temp, teacher_temp, momentum

    def __call__(self, student_output, teacher_output):
        student_out = (student_output / self.ts).chunk(self.ncrops)
        teacher_out = F.softmax((teacher_output - self.center) / self.tt, dim=-1).detach().chunk(2)
        total_loss, n_terms = 0, 0
        for iq, q in enumerate(teacher_out):
            for v in range(len(student_out)):
                if v == iq:
                    continue
                total_loss += torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
                n_terms += 1
        total_loss /= n_terms
        with torch.no_grad():
            bc = torch.sum(teacher_output, dim=0, keepdim=True) / len(teacher_output)
            self.center = self.center * self.m + bc * (1 - self.m)
        return total_loss


def bench(fn, leaves, reps):
    def once():
        for t in leaves:
            t.grad = None
        fn().backward()
    once()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        once()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def rows():
    for n, d in ((256, 2048), (1024, 2048), (512, 8192)):
        yield f"vicreg_{n}_{d}", lambda n=n, d=d: _vic(n, d)
    for n, d in ((512, 128), (2048, 256)):
        yield f"ntxent_{n}_{d}", lambda n=n, d=d: _nce(n, d)
    for b, k, nn in ((256, 512, 60000), (256, 2048, 50000)):
        yield f"diet_{b}_{k}_{nn}", lambda b=b, k=k, nn=nn: _diet(b, k, nn)
    yield "msn_256_256_1024_11", lambda: _msn(256, 256, 1024, 11)
    for n, d in ((256, 2048), (1024, 2048), (512, 8192)):
        yield f"barlow_{n}_{d}", lambda n=n, d=d: _barlow(n, d)
    for n, d in ((512, 128), (2048, 256)):
        yield f"negcos_{n}_{d}", lambda n=n, d=d: _negcos(n, d)
    for n, d, k in ((512, 128, 4096), (2048, 256, 16384)):
        yield f"mocov2_{n}_{d}_{k}", lambda n=n, d=d, k=k: _mocov2(n, d, k)
    for n, d in ((512, 128), (2048, 256)):
        yield f"mocov3_{n}_{d}", lambda n=n, d=d: _mocov3(n, d)
    for n, d in ((256, 2048), (1024, 2048), (512, 8192)):
        yield f"dino_{n}_{d}", lambda n=n, d=d: _dino(n, d)
    for n, d, k, v in ((256, 128, 3000, 2), (256, 128, 3000, 8), (256, 256, 1024, 11)):  # issue 21b
        yield f"swav_{n}_{d}_{k}_{v}", lambda n=n, d=d, k=k, v=v: _swav(n, d, k, v)


def _vic(n, d):
    x = torch.randn(n, d, requires_grad=True)
    y = torch.randn(n, d, requires_grad=True)
    return bench(lambda: vicreg(x, y), [x, y], reps)


def _nce(n, d):
    a = torch.randn(n, d, requires_grad=True)
    b = torch.randn(n, d, requires_grad=True)
    return bench(lambda: ntxent(a, b), [a, b], reps)


def _diet(b, k, nn):
    h = torch.randn(b, k, requires_grad=True)
    W = (torch.rand(nn, k) * 2 - 1).div_(k ** 0.5).requires_grad_()
    idx = torch.randint(0, nn, (b,))
    return bench(lambda: diet(h, W, idx), [h, W], reps)


def _msn(b, d, k, v):
    a = torch.randn(b * v, d, requires_grad=True)
    t = torch.randn(b, d)
    q = torch.randn(k, d, requires_grad=True)
    return bench(lambda: msn(a, t, q, v), [a, q], reps)


def _barlow(n, d):
    x = torch.randn(n, d, requires_grad=True)
    y = torch.randn(n, d, requires_grad=True)
    bn = torch.nn.BatchNorm1d(d, affine=False)
    return bench(lambda: barlow(x, y, bn), [x, y], reps)


def _negcos(n, d):
    p1, p2 = (torch.randn(n, d, requires_grad=True) for _ in range(2))
    z1, z2 = (torch.randn(n, d, requires_grad=True) for _ in range(2))
    return bench(lambda: simsiam(p1, p2, z1, z2), [p1, p2], reps)


def _mocov2(n, d, k):
    """facebookresearch/moco builder.py: [l_pos, l_neg] / T, label 0 (queue as its (dim, K) buffer)."""
    q = torch.randn(n, d, requires_grad=True)
    key = torch.randn(n, d)
    queue = torch.nn.functional.normalize(torch.randn(d, k), dim=0)

    def f():
        F = torch.nn.functional
        nq, nk = F.normalize(q, dim=1), F.normalize(key, dim=1)
        logits = torch.cat([(nq * nk).sum(1, keepdim=True), nq @ queue], 1) / 0.2
        return F.cross_entropy(logits, torch.zeros(n, dtype=torch.long))
    return bench(f, [q], reps)


def _mocov3(n, d):
    """moco-v3 builder.py: ctr(q1, k2) + ctr(q2, k1), CE(q k^T / T, arange) * 2T."""
    q1, q2 = (torch.randn(n, d, requires_grad=True) for _ in range(2))
    k1, k2 = (torch.randn(n, d) for _ in range(2))

    def ctr(a, b):
        F = torch.nn.functional
        a, b = F.normalize(a, dim=1), F.normalize(b, dim=1)
        return F.cross_entropy(a @ b.T / 0.2, torch.arange(n)) * 0.4
    return bench(lambda: ctr(q1, k2) + ctr(q2, k1), [q1, q2], reps)
def _dino(n, k, ncrops=10):
    s = torch.randn(ncrops * n, k, requires_grad=True)
    t = torch.randn(2 * n, k)  # the teacher's outputs: no gradient
    loss = DINOLoss(k, ncrops)
    return bench(lambda: loss(s, t), [s], reps)
def swav_codes(out, eps=0.05, iters=3):
    with torch.no_grad():
        Q = torch.exp(out / eps).t()
        Q /= torch.sum(Q)
        r = torch.ones(Q.shape[0]) / Q.shape[0]
        c = torch.ones(Q.shape[1]) / Q.shape[1]
        for _ in range(iters):
            Q *= (r / torch.sum(Q, dim=1)).unsqueeze(1)
            Q *= (c / torch.sum(Q, dim=0)).unsqueeze(0)
        return (Q / torch.sum(Q, dim=0, keepdim=True)).t()


def swav(x, proto, n, v, T=0.1):
    with torch.no_grad():
        proto.weight.copy_(F.normalize(proto.weight, dim=1, p=2))
    output = proto(F.normalize(x, dim=1, p=2))
    loss = 0
    for crop_id in (0, 1):
        q = swav_codes(output[n * crop_id:n * (crop_id + 1)].detach())
        sub = 0
        for u in range(v):
            if u != crop_id:
                sub -= torch.mean(torch.sum(q * F.log_softmax(output[n * u:n * (u + 1)] / T, dim=1), dim=1))
        loss += sub / (v - 1)
    return loss / 2


def _swav(n, d, k, v):
    x = torch.randn(n * v, d, requires_grad=True)
    proto = torch.nn.Linear(d, k, bias=False)
    return bench(lambda: swav(x, proto, n, v), [x, proto.weight], reps)


for name, f in rows():
    if only and name not in only:
        continue
    print(f"{name} {f():.6f}", flush=True)

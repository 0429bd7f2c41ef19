#!/usr/bin/env python3
"""Deterministic object set for bench/zipf.sh.

Writes OBJECTS files DIR/z/<n>.bin (n = 1..OBJECTS, n is also the popularity rank: 1 is the most popular)
with lognormal sizes (median MEDIAN bytes, sigma SIGMA, at most CAP bytes, at least 1), the sizes one per
line to DIR/sizes.txt (line n = object n) for the wrk script, and prints a summary, including what an ideal
static cache of CACHE bytes would get under Zipf(S) (the most valuable objects per byte kept forever).
Same arguments, same bytes: sizes and contents come from random.Random(SEED).
"""
import argparse, math, os, random

p = argparse.ArgumentParser()
p.add_argument("dir")
p.add_argument("--objects", type=int, default=20000)
p.add_argument("--median", type=int, default=8192)
p.add_argument("--sigma", type=float, default=1.7)
p.add_argument("--cap", type=int, default=2 * 1024 * 1024)
p.add_argument("--seed", type=int, default=1)
p.add_argument("--zipf", type=float, default=0.9)
p.add_argument("--cache", type=int, default=256 * 1024 * 1024)
p.add_argument("--mtime", type=int, default=1767225600)  # fixed Last-Modified: 2026-01-01T00:00:00Z
a = p.parse_args()
if a.objects < 1 or a.median < 1 or a.cap < 1 or a.sigma < 0:
    raise SystemExit("gen.py: objects, median and cap must be >= 1 and sigma >= 0")

rng = random.Random(a.seed)
mu = math.log(a.median)
sizes = [max(1, min(a.cap, int(rng.lognormvariate(mu, a.sigma)))) for _ in range(a.objects)]

# Contents: slices of one seeded random pool, each prefixed with its own name so no two objects are equal.
pool = rng.randbytes(4 * 1024 * 1024 + 65536)
zdir = os.path.join(a.dir, "z")
os.makedirs(zdir, exist_ok=True)
for n, size in enumerate(sizes, start=1):
    head = b"object %d size %d\n" % (n, size)
    off = (n * 7919) % 65536
    body = (head + pool[off:off + size])[:size]
    path = os.path.join(zdir, "%d.bin" % n)
    with open(path, "wb") as f:
        f.write(body)
    os.utime(path, (a.mtime, a.mtime))
with open(os.path.join(a.dir, "sizes.txt"), "w") as f:
    f.write("\n".join(str(s) for s in sizes) + "\n")

# Ideal static caches of CACHE bytes, kept forever: the most popular objects that fit (rank order) and the
# most requests per byte (probability / size order): references for the hit and byte hit ratios.
w = [n ** -a.zipf for n in range(1, a.objects + 1)]
total_w = sum(w)
total_b = sum(wi * s for wi, s in zip(w, sizes))


def static(order):
    used = hit_w = hit_b = 0
    for i in order:
        if used + sizes[i] <= a.cache:
            used += sizes[i]
            hit_w += w[i]
            hit_b += w[i] * sizes[i]
    return hit_w / total_w, hit_b / total_b


by_rank = static(range(a.objects))
by_density = static(sorted(range(a.objects), key=lambda i: w[i] / sizes[i], reverse=True))
ordered = sorted(sizes)
print("objects %d  total %.1f MiB  median %d B  mean %.1f KiB  max %d B  >1MiB %d  mean-per-request %.1f KiB" % (
    a.objects, sum(sizes) / 1048576, ordered[len(ordered) // 2], sum(sizes) / len(sizes) / 1024, ordered[-1],
    sum(1 for s in sizes if s > 1048576), total_b / total_w / 1024))
print("ideal static cache of %d MiB under Zipf(%.2f): most popular first: hit ratio %.3f, byte hit ratio %.3f;"
      " most requests per byte first: %.3f / %.3f" % ((a.cache // 1048576, a.zipf) + by_rank + by_density))

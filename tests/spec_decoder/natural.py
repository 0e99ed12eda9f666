"""The natural-image block (coder 0x06) decoded from docs/FORMAT.md and docs/SPEC-natural.md
alone: block layout, set header, lane groups, the seeded rANS messages and the decoder's
step order. Lanes of a group advance in lockstep; every other loop is plain Python."""

from __future__ import annotations

import numpy as np

from tests.spec_decoder.container import SpecError, decode_stream, plain, varint
from tests.spec_decoder.model import TAPS, Model

SEED = 0x6262_7A69_7000_0006
MASK64 = (1 << 64) - 1
DELTA_FREQS = [37, 55, 80, 118, 174, 255, 375, 550, 808, 550, 375, 255, 174, 118, 80, 55, 37]
DELTA_STARTS = [sum(DELTA_FREQS[:i]) for i in range(len(DELTA_FREQS))]
UNITS = [256] * 8 + [64] * 4  # a correction byte's unit: logits, means, log-scales


def splitmix64(seed: int, i: int) -> int:
    z = (seed + (i + 1) * 0x9E3779B97F4A7C15) & MASK64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return z ^ (z >> 31)


class Group:
    """One lane group's rANS message: 64-bit heads, a stack of 32-bit words."""

    def __init__(self, data: bytes, lanes: int):
        if len(data) < 8 * lanes or (len(data) - 8 * lanes) % 4:
            raise SpecError("impossible message length")
        self.heads = [int.from_bytes(data[8 * j : 8 * j + 8], "little") for j in range(lanes)]
        if min(self.heads) < 1 << 32:
            raise SpecError("head below 2**32")
        self.words = [int.from_bytes(data[p : p + 4], "little") for p in range(8 * lanes, len(data), 4)]

    def slot(self, lane: int, precision: int) -> int:
        return self.heads[lane] & ((1 << precision) - 1)

    def pop(self, ops, precision: int) -> None:
        """ops: (lane, start, freq), ascending lanes; the inactive lanes are left out."""
        needy = []
        for lane, start, freq in ops:
            head = self.heads[lane]
            self.heads[lane] = freq * (head >> precision) + (head & ((1 << precision) - 1)) - start
            if self.heads[lane] < 1 << 32:
                needy.append(lane)
        if len(needy) > len(self.words):
            raise SpecError("message ends early")
        taken = self.words[len(self.words) - len(needy) :]  # the lowest lane takes the deepest
        del self.words[len(self.words) - len(needy) :]
        for lane, word in zip(needy, taken):
            self.heads[lane] = self.heads[lane] << 32 | word

    def push(self, ops, precision: int) -> None:
        for lane, start, freq in ops:
            head = self.heads[lane]
            if head >> (64 - precision) >= freq:
                self.words.append(head & 0xFFFFFFFF)
                head >>= 32
            self.heads[lane] = ((head // freq) << precision) + head % freq + start

    def initial(self) -> bool:
        lanes = len(self.heads)
        if self.heads != [(1 << 32) + (splitmix64(SEED, j) & 0xFFFFFFFF) for j in range(lanes)]:
            return False
        k = len(self.words)
        return self.words == [splitmix64(SEED, lanes + i) & 0xFFFFFFFF for i in reversed(range(k))]


def block(payload: bytes, raw_size: int, model: Model) -> bytes:
    """A 0x06 block: runs, plain bytes, one set per shape (docs/FORMAT.md, natural payload)."""
    count, pos = varint(payload, 0)
    runs, shapes, offset = [], {}, 0
    for _ in range(count):
        gap, pos = varint(payload, pos)
        n, pos = varint(payload, pos)
        h, pos = varint(payload, pos)
        w, pos = varint(payload, pos)
        c = payload[pos]
        pos += 1
        start = offset + gap
        offset = start + n * h * w * c
        runs.append((start, offset, n))
        shapes.setdefault((h, w, c), []).append(len(runs) - 1)
    plain_size = raw_size - sum(end - start for start, end, _ in runs)
    coder = payload[pos]
    size, pos = varint(payload, pos + 1)
    rest = plain(coder, payload[pos : pos + size], plain_size)
    pos += size
    pixels = {}
    for (h, w, c), members in shapes.items():
        size, pos = varint(payload, pos)
        n = sum(runs[i][2] for i in members)
        images = decode_set(model, payload[pos : pos + size], n, h, w, c).reshape(-1)
        pos += size
        at = 0
        for i in members:
            start, end, _ = runs[i]
            pixels[i] = bytes(images[at : at + end - start].astype(np.uint8))
            at += end - start
    if pos != len(payload):
        raise SpecError("trailing bytes")
    out, taken, last = bytearray(), 0, 0
    for i, (start, end, _) in enumerate(runs):
        out += rest[taken : taken + start - last] + pixels[i]
        taken, last = taken + start - last, end
    return bytes(out + rest[taken:])


def signed(b: int) -> int:
    return b - 256 if b > 127 else b


def decode_set(model: Model, data: bytes, n: int, h: int, w: int, c: int) -> np.ndarray:
    """(n, h, w, c) images in file channel order from one set's payload."""
    first = data[0]
    side = (first & 0x3C) * 8
    if side not in (32, 64, 128, 256):
        raise SpecError("unknown tile side")
    coarse = list(data[1:5])
    sets = n if first & 1 else 1
    offsets = [[signed(b) for b in data[5:8]]]
    groups = data[8]
    pos = 9
    for _ in range(sets - 1):
        offsets.append([signed(b) for b in data[pos : pos + 3]])
        pos += 3
    adjust, classes = None, 1
    if first & 0x02:  # corrections per context class: their count K first
        classes = data[pos]
        if not first & 0x40 or not 2 <= classes <= 16:
            raise SpecError("bad context classes")
        pos += 1
    if first & 0x40:  # adjust[set][channel][class][output]
        adjust = [[[[signed(b) * UNITS[i] for i, b in enumerate(data[at : at + 12])]
                    for at in range(pos + 12 * classes * (s * c + k), pos + 12 * classes * (s * c + k + 1), 12)]
                   for k in range(c)] for s in range(sets)]
        pos += 12 * c * sets * classes
    lengths = []
    for _ in range(groups - 1):
        length, pos = varint(data, pos)
        lengths.append(length)
    lengths.append(len(data) - pos - sum(lengths))
    th, tw = min(side, -(-h // 8) * 8), min(side, -(-w // 8) * 8)
    rows, cols = -(-h // th), -(-w // tw)
    lanes = n * rows * cols
    tiles = np.zeros((lanes, th, tw, c), dtype=np.int64)
    for g in range(groups):
        part = range(g * lanes // groups, (g + 1) * lanes // groups)
        message = Group(data[pos : pos + lengths[g]], len(part))
        pos += lengths[g]
        extents = []
        for lane in part:
            image, rest = divmod(lane, rows * cols)
            tr, tc = divmod(rest, cols)
            s = image if sets > 1 else 0
            extents.append((min(th, h - tr * th), min(tw, w - tc * tw), offsets[s][:c], adjust[s] if adjust else None))
        group = Lanes(model, message, th, tw, c, coarse, extents, bool(first & 0x80), classes)
        tiles[part.start : part.stop] = group.decode()
        if not message.initial():
            raise SpecError("message not back in its seeded initial state")
    grid = tiles.reshape(n, rows, cols, th, tw, c).transpose(0, 1, 3, 2, 4, 5).reshape(n, rows * th, cols * tw, c)
    coded = grid[:, :h, :w]
    return coded[..., [1, 0, 2]] if c == 3 else coded  # coding order G, R, B back to R, G, B


def med(a: int, b: int, c: int) -> int:
    return min(a, b) if c >= max(a, b) else max(a, b) if c <= min(a, b) else a + b - c


def predict(v, y: int, x: int, corner: int) -> int:
    if y == 0:
        return v(0, x - 1) if x else corner
    if x == 0:
        return v(y - 1, 0)
    return med(v(y, x - 1), v(y - 1, x), v(y - 1, x - 1))


class Lanes:
    """The lanes of one group, decoded in lockstep (docs/SPEC-natural.md, section 6)."""

    def __init__(self, model, message, th, tw, c, coarse, extents, per_tile, classes=1):
        self.model, self.net, self.msg, self.classes = model, model.nets[c], message, classes
        self.th, self.tw, self.c, self.coarse, self.extents, self.per_tile = th, tw, c, coarse, extents, per_tile
        self.rows, self.cols = th // 8, tw // 8
        self.n = len(extents)
        self.v = np.zeros((self.n, th, tw, c), dtype=np.int64)
        self.canvas = np.zeros((self.n, th + 3, tw + 6, c + 1), dtype=np.int64)
        for lane, (hl, wl, _, _) in enumerate(extents):
            self.canvas[lane, 3 : 3 + hl, 3 : 3 + wl, c] = 1024
        self.buckets = np.zeros((self.n, self.rows, self.cols, 4), dtype=np.int64)

    def kind(self, lane: int, j: int, col: int) -> str:
        hl, wl = self.extents[lane][:2]
        br, bc = -(-hl // 8), -(-wl // 8)
        if col >= bc or j >= br:
            return "outside"
        return "fine" if j < br - 2 else "coarse"

    def value(self, lane: int, j: int, col: int, ch: int) -> int:
        kind, b = self.kind(lane, j, col), int(self.buckets[lane, j, col, ch])
        if kind == "coarse":
            return self.model.coarse_centres[(1 << self.coarse[ch]) - 1 + b]
        return self.model.latent_centres[b if kind == "fine" else 0]

    def decode(self) -> np.ndarray:
        offsets = [[64 * o for o in ext[2]] for ext in self.extents]
        if self.per_tile:
            for k in range(self.c):
                ops = []
                for lane in range(self.n):
                    slot = self.msg.slot(lane, 12)
                    d = max(i for i in range(17) if DELTA_STARTS[i] <= slot)
                    ops.append((lane, DELTA_STARTS[d], DELTA_FREQS[d]))
                    offsets[lane][k] += 64 * 2 * (d - 8)
                self.msg.pop(ops, 12)
        self.offsets = offsets
        self.pop_prior(0)
        self.pop_prior(1)
        for j in range(self.rows):
            feats = [self.features(lane, j) for lane in range(self.n)]
            for y in range(8 * j, 8 * j + 8):
                for x in range(self.tw):
                    self.pixel(y, x, feats)
            if j >= 1:
                self.push_posterior(j - 1)
            self.pop_prior(j + 2)
        return self.v

    def pop_prior(self, j: int) -> None:
        if j >= self.rows:
            return
        for kind in ("fine", "coarse"):
            for s in range(4 * self.cols):
                col, ch = divmod(s, 4)
                bits = 8 if kind == "fine" else self.coarse[ch]
                ops = []
                for lane in range(self.n):
                    if bits and self.kind(lane, j, col) == kind:
                        slot = self.msg.slot(lane, bits)
                        self.buckets[lane, j, col, ch] = slot
                        ops.append((lane, slot, 1))
                self.msg.pop(ops, bits)

    def features(self, lane: int, j: int) -> np.ndarray:
        low, high = max(j - 1, 0), min(j + 1, self.rows - 1)
        z = np.array([[[self.value(lane, r, col, ch) for ch in range(4)] for col in range(self.cols)]
                      for r in range(low, high + 1)], dtype=np.int64)
        return self.net.features(z)[j - low]

    def values(self, lane: int, k: int, minus: int | None = None):
        """V(r, q) of channel k of a lane's tile, or of its difference from channel ``minus``."""
        v = self.v[lane]
        return (lambda r, q: v[r, q, k]) if minus is None else (lambda r, q: v[r, q, k] - v[r, q, minus])

    def pixel(self, y: int, x: int, feats) -> None:
        active = [lane for lane in range(self.n) if y < self.extents[lane][0] and x < self.extents[lane][1]]
        if not active:
            return
        context = np.array([[self.canvas[lane, 3 + y + dy, 3 + x + dx, ch] for ch in range(self.c + 1) for dy, dx in TAPS]
                            for lane in active], dtype=np.int64)
        preds = np.array([[predict(self.values(lane, k), y, x, 128) for k in range(self.c)]
                          for lane in active], dtype=np.int64)
        residuals = np.zeros((len(active), 0), dtype=np.int64)
        for k in range(self.c):
            inputs = np.concatenate([context, (preds - 128) * 16, residuals * 64], axis=1)
            feat = np.array([feats[lane][x // 8, 32 * k : 32 * k + 32] for lane in active])
            out = self.net.head(k, inputs, feat)
            if k == 0:
                base = preds[:, 0]
            else:
                base = np.array([min(max(self.v[lane, y, x, 0] + predict(self.values(lane, k, 0), y, x, 0), 0), 255)
                                 for lane in active])
            ops = []
            for i, lane in enumerate(active):
                kind = self.context_class(lane, y, x, k, residuals[i]) if self.classes > 1 else 0
                adj = self.extents[lane][3][k][kind] if self.extents[lane][3] else [0] * 12
                p = [int(out[i, m]) + adj[m] for m in range(12)]
                logits, ls = p[:4], [p[8 + m] + self.offsets[lane][k] for m in range(4)]
                means = [min(max(p[4 + m] + int(base[i]) * 1024 + sum(int(out[i, 12 + 4 * e + m]) * int(residuals[i, e])
                                                                    for e in range(k)), -65536), 327680)
                         for m in range(4)]
                start = mixture_starts(self.model, logits, means, ls)
                slot = self.msg.slot(lane, 20)
                lo, hi = 0, 256  # the symbol s with start(s) <= slot < start(s + 1)
                while hi - lo > 1:
                    mid = (lo + hi) // 2
                    lo, hi = (mid, hi) if start(mid) <= slot else (lo, mid)
                ops.append((lane, start(lo), start(lo + 1) - start(lo)))
                self.v[lane, y, x, k] = lo
                self.canvas[lane, 3 + y, 3 + x, k] = (lo - 128) * 16
            self.msg.pop(ops, 20)
            residuals = np.concatenate([residuals, (self.v[active, y, x, k] - preds[:, k])[:, None]], axis=1)

    def context_class(self, lane: int, y: int, x: int, k: int, residuals) -> int:
        """Section 8: the bucket of the causal neighbourhood's activity."""
        wl, v = self.extents[lane][1], self.values(lane, k)
        exists = lambda dy, dx: y + dy >= 0 and 0 <= x + dx < wl
        activity = sum(2 * abs(int(r)) for r in residuals[:k])
        for p, q in (((0, -1), (-1, -1)), ((-1, 0), (-1, -1)), ((-1, 1), (-1, 0)), ((0, -1), (0, -2)),
                     ((-1, 0), (-2, 0))):
            if exists(*p) and exists(*q):
                activity += abs(int(v(y + p[0], x + p[1])) - int(v(y + q[0], x + q[1])))
        return min(activity.bit_length(), self.classes - 1)

    def push_posterior(self, j: int) -> None:
        posts = {}
        for s in reversed(range(4 * self.cols)):
            col, ch = divmod(s, 4)
            ops = []
            for lane in range(self.n):
                if self.kind(lane, j, col) != "fine":
                    continue
                if lane not in posts:
                    posts[lane] = self.net.posterior(self.canvas[lane, 3:, 3 : 3 + self.tw, : self.c])
                mu, ls = int(posts[lane][j, col, ch]), int(posts[lane][j, col, 4 + ch])
                start = posterior_starts(self.model, mu, ls)
                b = int(self.buckets[lane, j, col, ch])
                ops.append((lane, start(b), start(b + 1) - start(b)))
            self.msg.push(ops, 20)


def table_index(x: int) -> int:
    return min(max((x >> 16) + 16384, 0), 32767)


def mixture_starts(model: Model, logits, means, log_scales):
    top = max(logits)
    weights = [model.neg_exp[min(top - lg, 16383) >> 4] for lg in logits]
    inv = [model.inv_scale[min(max((ls - model.scale_base) >> 4, 0), len(model.inv_scale) - 1)] for ls in log_scales]

    def start(s: int) -> int:
        if s <= 0:
            return 0
        if s >= 256:
            return 1 << 20
        total = sum(wt * model.sigmoid[table_index((s * 1024 - 512 - m) * i)] for wt, m, i in zip(weights, means, inv))
        return ((total // sum(weights)) * ((1 << 20) - 256) >> 30) + s
    return start


def posterior_starts(model: Model, mu: int, log_sigma: int):
    inv = model.inv_sigma[min(max((log_sigma - model.sigma_base) >> 4, 0), len(model.inv_sigma) - 1)]

    def start(b: int) -> int:
        if b <= 0:
            return 0
        if b >= 256:
            return 1 << 20
        return (model.normal_cdf[table_index((model.latent_edges[b] - mu) * inv)] * ((1 << 20) - 256) >> 30) + b
    return start


def decode(data: bytes, model_files: list[bytes]) -> bytes:
    """A whole .bbz file; ``model_files``: the natural-image model files it may name."""
    import hashlib

    models = {hashlib.sha256(m).digest()[:8]: m for m in model_files}
    loaded: dict[bytes, Model] = {}

    def natural_block(payload: bytes, raw_size: int, model_id: bytes) -> bytes:
        if model_id not in loaded:
            loaded[model_id] = Model(models[model_id])
        return block(payload, raw_size, loaded[model_id])

    return decode_stream(data, natural_block)

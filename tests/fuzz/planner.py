"""The plan of cases (systematic and drawn) and each case made into a mutant."""

from __future__ import annotations

import random
from dataclasses import dataclass

from bbzip.constants import IMAGE_BYTES
from tests.fuzz.common import BINARY_IDS, CLASSES, MODEL_IDS, SMALL_SEED, STREAM_FIELDS, VAE_SHARE
from tests.fuzz.seeds import Seed
from tests.fuzz.values import _varint, field_values


@dataclass(frozen=True)
class Case:
    """One mutant, fully determined by its description (so it can be rebuilt anywhere)."""

    cls: str
    seed: int  # index into the seed list
    arg: tuple = ()  # class-specific: an offset, (field index, value index), an RNG seed


@dataclass
class Mutant:
    data: bytes
    acceptable: tuple[bytes, ...]  # outputs that are right; empty: the case must fail
    valid: bool = False  # True: a typed error is wrong too (the mutant is a valid file)


def make_plan(n: int, seed: int, seeds: list[Seed]) -> list[Case]:
    """n cases: the systematic ones (all of them when n allows) and random draws."""
    rng = random.Random(seed)
    truncations = [
        Case("truncate", i, (cut,))
        for i, s in enumerate(seeds)
        if len(s.packed) <= SMALL_SEED
        for cut in range(len(s.packed))
    ]
    # Larger seeds are cut at every boundary between streams, blocks and their headers.
    truncations += [
        Case("truncate", i, (cut,))
        for i, s in enumerate(seeds)
        if len(s.packed) > SMALL_SEED
        for cut in sorted({u.start for u in s.units} | {f.start for f in s.fields} - {0})
    ]
    fields = []
    for i, s in enumerate(seeds):
        firsts = {}
        for j, f in enumerate(s.fields):
            if s.vae and f.kind in STREAM_FIELDS:
                continue  # the same framing as every model-free seed's: drawn at random only
            firsts.setdefault(f.kind, j)  # the first instance of each kind of field
        for j in firsts.values():
            f = s.fields[j]
            count = len(field_values(f, s.packed[f.start : f.end]))
            fields += [Case("field", i, (j, k)) for k in range(count)]
    systematic = []
    for group, share in ((truncations, 0.33), (fields, 0.42)):
        take = min(len(group), int(n * share))
        systematic += group if take == len(group) else rng.sample(group, take)
    weighted = [c for c, w in CLASSES.items() for _ in range(w)]
    multi_block = [i for i, s in enumerate(seeds) if len(s.blocks) >= 2]
    with_blocks = [i for i, s in enumerate(seeds) if s.blocks]
    drawn = []
    while len(systematic) + len(drawn) < n:
        cls = rng.choice(weighted)
        pool = (
            multi_block
            if cls == "swap-blocks"
            else with_blocks
            if cls in ("dup-block", "drop-block", "transplant", "field", "field-pair")
            else range(len(seeds))
        )
        i = _pick_seed(rng, pool, seeds)
        if cls == "field":
            j = rng.randrange(len(seeds[i].fields))
            f = seeds[i].fields[j]
            k = rng.randrange(len(field_values(f, seeds[i].packed[f.start : f.end])))
            drawn.append(Case(cls, i, (j, k)))
        elif cls == "field-pair":
            drawn.append(Case(cls, i, _pick_pair(seeds[i], rng)))
        elif cls == "truncate":
            drawn.append(Case(cls, i, (rng.randrange(len(seeds[i].packed)),)))
        else:
            drawn.append(Case(cls, i, (rng.getrandbits(48),)))
    plan = systematic + drawn
    rng.shuffle(plan)  # mixes classes across workers and across a partial run
    return plan[:n]


def _pick_seed(rng: random.Random, pool, seeds: list[Seed]) -> int:
    """A seed from pool: one holding a VAE block with probability VAE_SHARE."""
    vae = [i for i in pool if seeds[i].vae]
    other = [i for i in pool if not seeds[i].vae]
    if vae and (not other or rng.random() < VAE_SHARE):
        return rng.choice(vae)
    return rng.choice(other)


def _pick_pair(s: Seed, rng: random.Random) -> tuple[int, int, int, int]:
    """A raw-size field and another field after it in the same block (its payload's when the
    block is order0 or VAE), each with a value index: (field, value, field, value)."""
    sizes = [j for j, f in enumerate(s.fields) if f.kind in ("raw-size", "vae-raw-size")]
    a = rng.choice(sizes)
    block_end = next(
        (u.end for u in s.blocks if u.start < s.fields[a].start < u.end), len(s.packed)
    )
    later = [j for j, f in enumerate(s.fields) if s.fields[a].end <= f.start < block_end]
    inner = [j for j in later if s.fields[j].kind.startswith(("o0-", "vae-", "nat-"))]
    b = rng.choice(inner or later)
    counts = [
        len(field_values(s.fields[j], s.packed[s.fields[j].start : s.fields[j].end]))
        for j in (a, b)
    ]
    return a, rng.randrange(counts[0]), b, rng.randrange(counts[1])


_INTERESTING = (0x00, 0x01, 0x7F, 0x80, 0xFF, 0xB8, 0x10)


def materialise(case: Case, seeds: list[Seed]) -> Mutant:
    s = seeds[case.seed]
    packed, original = s.packed, s.raw
    same = Mutant(b"", (original,))
    if case.cls == "truncate":
        (cut,) = case.arg
        prefix = [raw for end, raw in s.stream_ends if end == cut]
        if prefix:  # a cut between streams leaves valid streams
            return Mutant(packed[:cut], (original[: prefix[0]],), valid=True)
        return Mutant(packed[:cut], ())
    if case.cls in ("field", "field-pair"):
        data = packed
        pairs = list(zip(case.arg[::2], case.arg[1::2]))
        for j, k in sorted(pairs, key=lambda p: -s.fields[p[0]].start):  # last first: offsets hold
            f = s.fields[j]
            new = field_values(f, packed[f.start : f.end])[k]
            data = data[: f.start] + new + data[f.end :]
        same.data = data
        return same
    rng = random.Random(case.arg[0])
    data = bytearray(packed)
    if case.cls == "bitflip":
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif case.cls == "byte-set":
        for _ in range(rng.randint(1, 3)):
            pos = rng.randrange(len(data))
            data[pos] = rng.choice(_INTERESTING) if rng.random() < 0.5 else rng.randrange(256)
    elif case.cls == "insert":
        pos = rng.randint(0, len(data))
        if rng.random() < 0.5:
            piece = rng.randbytes(rng.randint(1, 16))
        else:
            a = rng.randrange(len(data))
            piece = bytes(data[a : a + rng.randint(1, 64)])
        data[pos:pos] = piece
    elif case.cls == "delete":
        pos = rng.randrange(len(data))
        del data[pos : pos + rng.randint(1, 16)]
    elif case.cls == "dup-block":
        u = rng.choice(s.blocks)
        data[u.end : u.end] = packed[u.start : u.end]
    elif case.cls == "drop-block":
        u = rng.choice(s.blocks)
        del data[u.start : u.end]
    elif case.cls == "swap-blocks":
        a, b = sorted(rng.sample(s.blocks, 2), key=lambda u: u.start)
        data = bytearray(
            packed[: a.start]
            + packed[b.start : b.end]
            + packed[a.end : b.start]
            + packed[a.start : a.end]
            + packed[b.end :]
        )
    elif case.cls == "transplant":
        u = rng.choice(s.blocks)
        donor = rng.choice([d for d in seeds if d.blocks])
        v = rng.choice(donor.blocks)
        data[u.start : u.end] = donor.packed[v.start : v.end]
    elif case.cls == "garbage-tail":
        from bbzip.container import STREAM_HEADER

        kind = rng.randrange(5)
        tail = [
            rng.randbytes(rng.randint(1, 40)),
            bytes(rng.randint(1, 16)),
            STREAM_HEADER[: rng.randint(1, 4)],
            STREAM_HEADER + rng.randbytes(rng.randint(0, 24)),
            _cut(rng.choice(seeds).packed, rng),
        ][kind]
        data += tail
    elif case.cls == "magic-random":
        return Mutant(_random_stream(rng), ())
    elif case.cls == "concat-valid":
        from bbzip.container import STREAM_HEADER

        empty = STREAM_HEADER + b"\x00\x00" + b"\x00" * 4
        other = rng.choice(seeds)
        parts = [packed, empty * rng.randint(0, 2), other.packed]
        if rng.random() < 0.5:
            parts.insert(0, empty)
        return Mutant(b"".join(parts), (original + other.raw,), valid=True)
    else:
        raise ValueError(case.cls)
    same.data = bytes(data)
    return same


def _cut(packed: bytes, rng: random.Random) -> bytes:
    """A proper prefix of a valid file (never a whole stream, which would be valid)."""
    return packed[: rng.randint(1, min(30, len(packed) - 1))]


def _random_stream(rng: random.Random) -> bytes:
    """The magic, then either random bytes or plausible block headers with random payloads
    (a third of those start with a VAE block for an installed model, so that random data
    reaches the VAE decoder itself)."""
    from bbzip.container import MAGIC

    if rng.random() < 0.4:
        return MAGIC + rng.randbytes(rng.randint(0, 64))
    out = bytearray(MAGIC + bytes([0x10]))
    if MODEL_IDS and rng.random() < 1 / 3:
        out += _random_vae_block(rng)
    for _ in range(rng.randint(0, 3)):
        coder = rng.choice((1, 2, 3, 0x7F, rng.randint(1, 255)))
        flags = 1 if coder == 3 and rng.random() < 0.7 else 0
        raw = rng.choice((1, rng.randint(1, 300), rng.randint(1, 1 << 20), 64 << 20))
        payload = rng.randbytes(rng.randint(0, 80))
        if coder == 1 and rng.random() < 0.7:  # an order0-shaped payload
            payload = (
                _varint(rng.randint(1, 4))
                + bytes([rng.randint(1, 15)])
                + rng.randbytes(32 + rng.randint(0, 40))
            )
        out += bytes([coder, flags]) + (rng.randbytes(8) if flags else b"")
        out += _varint(raw) + _varint(len(payload)) + rng.randbytes(4) + payload
    if rng.random() < 0.8:
        out += b"\x00" + _varint(rng.randint(0, 400)) + rng.randbytes(4)
    return bytes(out)


def _random_vae_block(rng: random.Random) -> bytes:
    """A VAE block of an installed model claiming whole digits (1 to 85,598, on 1 to 512
    lanes) after a header, with mostly well-formed payload framing (header code, ink byte
    for a binary model, one head per lane, whole words) around random rANS data. Few words
    when the digits are on one or two lanes: each costs about 0.1 s to decode there."""
    from bbzip.vae.bitsback import choose_lanes

    model = rng.choice(MODEL_IDS)
    code = rng.choice((1, 3, 5, 0, 2 * 16))
    header = 13 if code in (1, 3) else 11 if code == 5 else code >> 1
    images = rng.choice((1, 2, rng.randint(1, 30), rng.randint(1, 85_598)))
    lanes = choose_lanes(images)
    if rng.random() < 0.9:
        ink = bytes([rng.choice((1, 255))]) if model in BINARY_IDS else b""
    else:
        ink = rng.choice((b"", b"\x00", b"\x01", b"\xff"))
    words = rng.randint(0, 60)
    if lanes > 2 and rng.random() < 0.5:
        words = rng.randint(0, 2000)
    payload = (
        _varint(code)
        + rng.randbytes(0 if code & 1 else code >> 1)
        + ink
        + rng.randbytes(8 * rng.choice((lanes, lanes, lanes, 1, 2 * lanes)))
        + rng.randbytes(4 * words + rng.choice((0, 0, 0, 0, 1, 3)))
    )
    raw = header + IMAGE_BYTES * images + rng.choice((0, 0, 0, 0, 0, 0, 1))
    return bytes([3, 1]) + model + _varint(raw) + _varint(len(payload)) + rng.randbytes(4) + payload

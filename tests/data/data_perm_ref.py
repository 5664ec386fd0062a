"""data_perm_ref.py — an independent Python implementation of the epoch permutation exactly as
docs/formats.md describes it (splitmix64 keys, 8-round Feistel on the smallest even bit width,
cycle walking). Usage: data_perm_ref.py N SEED EPOCH  -> prints perm(0..N-1), one per line."""
import sys

M64 = (1 << 64) - 1


def mix64(z):
    z = (z + 0x9E3779B97F4A7C15) & M64
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)


def make_perm(n, seed, epoch):
    k = 1
    while k < 32 and ((n - 1) >> (2 * k)) != 0:
        k += 1
    mask = (1 << k) - 1
    state = mix64(seed) ^ mix64(epoch ^ 0x6C76742D7065726D)
    keys = []
    for r in range(8):
        state = mix64((state + r) & M64)
        keys.append(state >> 32)

    def feistel(x):
        left, right = (x >> k) & mask, x & mask
        for key in keys:
            f = mix64((key << 32) ^ right) & mask
            left, right = right, left ^ f
        return (left << k) | right

    def apply(i):
        x = feistel(i)
        while x >= n:
            x = feistel(x)
        return x

    return apply


def main():
    n, seed, epoch = (int(a) for a in sys.argv[1:4])
    p = make_perm(n, seed, epoch)
    sys.stdout.write("".join("%d\n" % p(i) for i in range(n)))


if __name__ == "__main__":
    main()

"""The digit VAE's convolutional stacks (posterior encoder, decoder trunk), batched for speed.

They compute exactly what ``Layer`` computes layer by layer, in fewer passes over memory:

* each layer's power-of-two scale is folded into its weights, and its scaled offset into an
  extra weight row met by an always-1 input column, so one matrix product gives the value
  to floor (integers times a power of two per output: every sum stays exact in float64);
* activations are channel-last, and each layer floors straight into the buffer that the
  next layer reads (a zero-bordered canvas or an input matrix), then clips it in place;
* a transposed convolution (kernel 4, stride 2, padding 1) reads the 2x2 windows of its
  zero-padded input: window (r, s) fixes the 2x2 block of output pixels (2r - 1 + a,
  2s - 1 + b), four taps each, so nothing is scatter-added. It runs per output parity
  (a, b) on the windows whose pixel of that parity lies in the image, one small product
  per window row (OpenBLAS multiplies up to 10**6 multiply-adds without packing its
  inputs, which for these narrow layers runs faster than one big product).

The decoder's features are pixel-major, (784, images, hidden): the decoder steps through
them one pixel at a time, and per-pixel products write each pixel's images contiguously.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided

from bbzip.fixedpoint.fixed import ACT_LIMIT

IMAGE = 28
PIXELS = IMAGE * IMAGE
QUARTER = IMAGE // 4  # the 7x7 grid of the innermost feature maps
# The fully connected layers run on this many convolution batches at once: their matrix
# products need more rows than a cache-sized convolution batch to run at full speed.
DENSE_BATCHES = 4


def fold(weight_t: np.ndarray, offset: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """(in + 1, out): the weights times the scale, then the scaled offset as the row that
    the input's always-1 column meets."""
    return np.vstack([weight_t * scale, offset * scale])


def conv_fold(layer, channels: int, kernel: int) -> np.ndarray:
    """A convolution's folded weights with rows in channel-last window order (ky, kx, c)
    rather than torch's (c, ky, kx)."""
    w = layer.weight_t.reshape(channels, kernel, kernel, -1).transpose(1, 2, 0, 3)
    return fold(w.reshape(kernel * kernel * channels, -1), layer.offset, layer.scale)


def deconv_fold(weight: np.ndarray, layer) -> np.ndarray:
    """torch's (in, out, 4, 4) transposed-convolution weights as one (4*in + 1, 4*out)
    matrix from a 2x2 input window (dy, dx, c) to its 2x2 output block (a, b, o).

    Output row 2r - 1 + a takes input rows r - 1 + dy through kernel row 2 + a - 2*dy."""
    d = np.arange(2)
    k = 2 + d[None, :] - 2 * d[:, None]  # k[dy, a]
    taps = weight[:, :, k[:, None, :, None], k[None, :, None, :]]  # (in, out, dy, dx, a, b)
    taps = taps.transpose(2, 3, 0, 4, 5, 1).reshape(4 * weight.shape[0], -1)
    return fold(taps, np.tile(layer.offset, 4), np.tile(layer.scale, 4))


def parities(weight: np.ndarray) -> list[tuple[int, int, np.ndarray]]:
    """A ``deconv_fold`` matrix split by output parity: (a, b, its (rows, out) columns)."""
    blocks = weight.reshape(len(weight), 2, 2, -1)
    return [(a, b, np.ascontiguousarray(blocks[:, a, b])) for a in range(2) for b in range(2)]


def with_ones(rows: int, width: int) -> np.ndarray:
    """A (rows, width + 1) input matrix whose last column is 1."""
    buffer = np.empty((rows, width + 1))
    buffer[:, width] = 1.0
    return buffer


def inputs(buffer: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The first rows of a ``with_ones`` matrix, without the ones, viewed as ``shape``."""
    rows = int(np.prod(shape)) // (buffer.shape[1] - 1)
    view = buffer[:rows, :-1].reshape(shape)
    if not np.may_share_memory(view, buffer):  # reshape(copy=False) says so from numpy 2.1 on
        raise AssertionError("a with_ones matrix must be viewable as its layer's input")
    return view


def windows(canvas: np.ndarray, size: int, stride: int, count: int) -> np.ndarray:
    """(n, count, count, size, size, c) view of the windows of an NHWC canvas."""
    n, _, _, c = canvas.shape
    s = canvas.strides
    return as_strided(canvas, (n, count, count, size, size, c),
                      (s[0], stride * s[1], stride * s[2], s[1], s[2], s[3]), writeable=False)


def by_position(patches: np.ndarray) -> np.ndarray:
    """Windows ordered (row, column, image) rather than (image, row, column)."""
    return patches.transpose(1, 2, 0, 3, 4, 5)


def requantise(y: np.ndarray, out: np.ndarray, relu: bool) -> None:
    """out = floor(y) clipped to the activation range (``out`` may be y or any view)."""
    np.floor(y, out=out)
    np.clip(out, 0 if relu else -ACT_LIMIT, ACT_LIMIT, out=out)


class Encoder:
    """Images -> posterior parameters: conv 4/2/1, conv 4/2/1, fc, fc."""

    def __init__(self, net):
        self.lut = net.input_lut
        self.conv1 = conv_fold(net.enc_conv1, 1, 4)
        self.conv2 = conv_fold(net.enc_conv2, 32, 4)
        # torch flattens (64, 7, 7) channel-first; this trunk's maps are channel-last.
        fc1 = net.enc_fc1.weight_t.reshape(64, QUARTER, QUARTER, -1).transpose(1, 2, 0, 3)
        fc1 = fc1.reshape(64 * QUARTER * QUARTER, -1)
        self.fc1 = fold(fc1, net.enc_fc1.offset, net.enc_fc1.scale)
        self.fc2 = fold(net.enc_fc2.weight_t, net.enc_fc2.offset, net.enc_fc2.scale)

    def __call__(self, images: np.ndarray, batch: int) -> np.ndarray:
        out = np.empty((len(images), self.fc2.shape[1]), dtype=np.int64)
        dense_batch = max(1, min(batch * DENSE_BATCHES, len(images)))
        batch = min(batch, dense_batch)
        canvas1 = np.zeros((batch, IMAGE + 2, IMAGE + 2, 1))
        cols1 = with_ones(batch * 14 * 14, 16)
        canvas2 = np.zeros((batch, 16, 16, 32))
        cols2 = with_ones(batch * QUARTER * QUARTER, 512)
        flat = with_ones(dense_batch, 64 * QUARTER * QUARTER)
        hidden = with_ones(dense_batch, self.fc1.shape[1])
        for i in range(0, len(images), dense_batch):
            f = min(dense_batch, len(images) - i)
            for j in range(0, f, batch):
                n = min(batch, f - j)
                canvas1[:n, 1:-1, 1:-1, 0] = self.lut[images[i + j : i + j + n]]
                inputs(cols1, (n, 14, 14, 4, 4, 1))[...] = windows(canvas1[:n], 4, 2, 14)
                y = cols1[: n * 196] @ self.conv1
                requantise(y.reshape(n, 14, 14, 32), canvas2[:n, 1:-1, 1:-1], relu=True)
                patches = windows(canvas2[:n], 4, 2, QUARTER)
                inputs(cols2, patches.shape)[...] = patches
                y = cols2[: n * QUARTER * QUARTER] @ self.conv2
                requantise(y.reshape(n, -1), flat[j : j + n, :-1], relu=True)
            requantise(flat[:f] @ self.fc1, hidden[:f, :-1], relu=True)
            y = hidden[:f] @ self.fc2
            requantise(y, y, relu=False)
            out[i : i + f] = y
        return out


class Decoder:
    """Latents -> per-pixel features: fc, fc, transposed conv 4/2/1 twice.

    The transposed convolutions' windows are ordered (window row, window column, image):
    each product's output is then, per pixel, one contiguous run of the images' channels,
    as the pixel-major features want them."""

    def __init__(self, net, deconv1: np.ndarray, deconv2: np.ndarray):
        self.fc1 = fold(net.dec_fc1.weight_t, net.dec_fc1.offset, net.dec_fc1.scale)
        # Outputs reordered from torch's channel-first (64, 7, 7) to channel-last.
        order = np.arange(64 * QUARTER * QUARTER).reshape(64, QUARTER, QUARTER).transpose(1, 2, 0)
        order = order.reshape(-1)
        fc2 = net.dec_fc2
        self.fc2 = fold(fc2.weight_t[:, order], fc2.offset[order], fc2.scale[order])
        self.deconv1 = parities(deconv_fold(deconv1, net.dec_deconv1))
        self.deconv2 = parities(deconv_fold(deconv2, net.dec_deconv2))
        self.hidden = deconv2.shape[1]

    def __call__(self, z: np.ndarray, pixel_major: bool, batch: int) -> np.ndarray:
        count = len(z)
        out = np.empty((PIXELS, count, self.hidden), dtype=np.float32)
        grid = out.reshape(IMAGE, IMAGE, count, self.hidden)
        dense_batch = max(1, min(batch * DENSE_BATCHES, count))
        batch = min(batch, dense_batch)
        latents = with_ones(dense_batch, z.shape[1])
        dense = with_ones(dense_batch, self.fc2.shape[0] - 1)
        canvas1 = np.zeros((dense_batch, QUARTER + 2, QUARTER + 2, 64))
        buffers = (with_ones(batch * 8 * 8, 4 * 64), np.zeros((batch, 16, 16, 32)),
                   with_ones(batch * 15 * 15, 4 * 32))
        for i in range(0, count, dense_batch):
            f = min(dense_batch, count - i)
            latents[:f, :-1] = z[i : i + f]
            requantise(latents[:f] @ self.fc1, dense[:f, :-1], relu=True)
            y = dense[:f] @ self.fc2
            requantise(y.reshape(f, QUARTER, QUARTER, 64), canvas1[:f, 1:-1, 1:-1], relu=True)
            for j in range(0, f, batch):
                n = min(batch, f - j)
                self._deconvolve(canvas1[j : j + n], grid[:, :, i + j : i + j + n], buffers)
        return out if pixel_major else np.ascontiguousarray(out.transpose(1, 0, 2))

    def _deconvolve(self, canvas1: np.ndarray, target: np.ndarray, buffers) -> None:
        """(n, 9, 9, 64) padded 7x7 maps -> target (28, 28, n, hidden)."""
        cols1, canvas2, cols2 = buffers
        n = len(canvas1)
        patches = by_position(windows(canvas1, 2, 1, 8))
        inputs(cols1, patches.shape)[...] = patches
        canvas2 = canvas2[:n]
        # Window row r, sub-row a gives output row 2r - 1 + a, canvas row 2r + a; the rows
        # r in [1 - a, 8 - a), and alike the columns, land inside the 14x14 map (the canvas's
        # border stays 0). One product per window row: products this small run faster.
        windows1 = cols1[: 64 * n].reshape(8, 8 * n, -1)
        for a, b, weight in self.deconv1:
            y = np.matmul(windows1[1 - a : 8 - a, (1 - b) * n : (8 - b) * n], weight)
            np.floor(y.reshape(7, 7, n, -1).transpose(2, 0, 1, 3),
                     out=canvas2[:, 2 - a : 16 - a : 2, 2 - b : 16 - b : 2])
        np.clip(canvas2, 0, ACT_LIMIT, out=canvas2)
        patches = by_position(windows(canvas2, 2, 1, 15))
        inputs(cols2, patches.shape)[...] = patches
        windows2 = cols2[: 225 * n].reshape(15, 15 * n, -1)
        for a, b, weight in self.deconv2:
            y = np.matmul(windows2[1 - a : 15 - a, (1 - b) * n : (15 - b) * n], weight)
            requantise(y, y, relu=False)  # in place: a clip that casts as it writes is slower
            target[1 - a :: 2, 1 - b :: 2] = y.reshape(14, 14, n, -1)

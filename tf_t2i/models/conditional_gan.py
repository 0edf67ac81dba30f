"""ConditionalGAN: one keras.Model for DCGAN, GAN-CLS, GAN-INT(-CLS), attribute, class and
mask conditioning, with the style encoder of Reed et al. 2016."""

from __future__ import annotations

import keras
import tensorflow as tf

from tf_t2i import losses
from tf_t2i.errors import T2IError
from tf_t2i.models.augment import diff_augment
from tf_t2i.models.config import CONDITION_KEYS, INTERPOLABLE_CONDITIONS, ModelConfig
from tf_t2i.models.discriminator import build_classifier, build_discriminator
from tf_t2i.models.generator import build_generator
from tf_t2i.models.kernels import jit_compile
from tf_t2i.models.style_encoder import build_style_encoder

# Batch key of a condition -> batch key of its mismatching version (from the input pipeline).
WRONG_KEYS = {
    "embeddings": "wrong_embeddings",
    "attributes": "wrong_attributes",
    "labels": "wrong_labels",
}


@keras.saving.register_keras_serializable(package="tf_t2i")
class ConditionalGAN(keras.Model):
    """A conditional DCGAN trained with Reed et al.'s GAN-CLS / GAN-INT algorithm.

    `fit()` on the input pipeline's dataset runs `train_step` (one D update, and one G update
    every `d_steps` steps). After the GAN, `train_style_encoder_step` (or
    `StyleEncoderTrainer(gan).fit(...)`) trains the style encoder with G frozen.

    Args:
        model_config: a ModelConfig (or its dict).
        seed: optional int seed for the noise sampled in train_step.
        **kwargs: passed to keras.Model (name, ...).

    Example:
        >>> gan = build_gan(ModelConfig(image_size=32, ngf=8, ndf=8, embedding_dim=16))
        >>> gan.fit(make_dataset(data_dir, batch_size=64), epochs=1)
        >>> images = gan.generate({"embeddings": text_embeddings}, seed=0)

    Reference:
        Reed et al., "Generative Adversarial Text to Image Synthesis", ICML 2016.
    """

    def __init__(self, model_config: ModelConfig | dict, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(model_config, dict):
            model_config = ModelConfig.from_dict(model_config)
        model_config.validate()
        # === Config ===
        self.model_config = model_config
        self.seed = seed
        # === Layers === (built here so that fit under a strategy needs no symbolic build)
        self.generator = build_generator(model_config)
        # G_ema: the moving average of G's weights that generate() draws from (ema_decay > 0)
        self.generator_ema = None
        if model_config.ema_decay > 0:
            self.generator_ema = build_generator(model_config, name="generator_ema")
            self.generator_ema.set_weights(self.generator.get_weights())
        self.discriminator = build_discriminator(model_config)
        # TAC-GAN's auxiliary classifier on D's trunk features, trained with D (aux_classifier)
        self.classifier = (
            build_classifier(model_config, self.discriminator.get_layer("d_trunk"))
            if model_config.aux_classifier > 0
            else None
        )
        self.style_encoder = (
            build_style_encoder(model_config) if model_config.style_encoder else None
        )
        # === State ===
        # Our own counter: optimizer.iterations skips steps that loss scaling rejects.
        self.step = tf.Variable(
            0,
            dtype=tf.int64,
            trainable=False,
            name="step",
            aggregation=tf.VariableAggregation.ONLY_FIRST_REPLICA,
        )
        self.seed_generator = keras.random.SeedGenerator(seed, name="noise_seed")
        self.d_loss_tracker = keras.metrics.Mean(name="d_loss")
        self.g_loss_tracker = keras.metrics.Mean(name="g_loss")
        self.d_real_tracker = keras.metrics.Mean(name="d_real")
        self.d_wrong_tracker = keras.metrics.Mean(name="d_wrong")
        self.d_fake_tracker = keras.metrics.Mean(name="d_fake")
        self.s_loss_tracker = keras.metrics.Mean(name="s_loss")
        self.ms_loss_tracker = keras.metrics.Mean(name="ms_loss")
        self.r1_tracker = keras.metrics.Mean(name="r1")
        self.d_aux_tracker = keras.metrics.Mean(name="d_aux")
        self.g_aux_tracker = keras.metrics.Mean(name="g_aux")
        self.d_optimizer = None
        self.g_optimizer = None
        self.s_optimizer = None
        self.built = True

    # ------------------------------------------------------------------ set-up
    def compile(self, d_optimizer, g_optimizer, s_optimizer=None, **kwargs):
        """Sets and builds the optimizers (wrap them in LossScaleOptimizer for float16).

        Args:
            d_optimizer: optimizer of the discriminator.
            g_optimizer: optimizer of the generator.
            s_optimizer: optimizer of the style encoder (required when it is enabled).
            **kwargs: passed to keras.Model.compile (e.g. steps_per_execution).
        """
        kwargs.setdefault("jit_compile", jit_compile(self.model_config.kernels))  # kernels.py
        # optimizer=None: Keras would otherwise create an unused optimizer that breaks restore.
        super().compile(optimizer=None, **kwargs)
        self.d_optimizer = d_optimizer
        self.g_optimizer = g_optimizer
        self.s_optimizer = s_optimizer
        # Built up front: no retrace on the first step and no variables created in a replica.
        d_optimizer.build(self.d_variables)
        g_optimizer.build(self.generator.trainable_variables)
        if self.style_encoder is not None:
            if s_optimizer is None:
                raise T2IError("model.style_encoder is on: compile() needs an s_optimizer")
            s_optimizer.build(self.style_encoder.trainable_variables)

    @property
    def metrics(self):
        """The trackers reset by fit() at each epoch (d_wrong only with GAN-CLS, ms_loss only
        with mode seeking, r1 only with R1; g_loss includes the weighted mode-seeking term and
        d_loss the weighted R1 term)."""
        trackers = [self.d_loss_tracker, self.g_loss_tracker, self.d_real_tracker]
        if self.model_config.uses_cls:
            trackers.append(self.d_wrong_tracker)
        trackers.append(self.d_fake_tracker)
        if self.model_config.mode_seeking > 0:
            trackers.append(self.ms_loss_tracker)
        if self.model_config.r1_gamma > 0:
            trackers.append(self.r1_tracker)
        if self.classifier is not None:
            trackers += [self.d_aux_tracker, self.g_aux_tracker]
        return trackers

    @property
    def d_variables(self) -> list:
        """What D's optimizer trains: D's weights, and the auxiliary classifier's if any."""
        variables = list(self.discriminator.trainable_variables)
        if self.classifier is not None:
            variables += self.classifier.trainable_variables
        return variables

    @property
    def inference_generator(self) -> keras.Model:
        """The generator that samples, evaluation and export use: G_ema if on, else G."""
        return self.generator if self.generator_ema is None else self.generator_ema

    def get_config(self):
        config = super().get_config()
        config.update({"model_config": self.model_config.to_dict(), "seed": self.seed})
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_compile_config(self):
        # The optimizers follow from model_config: rebuild them with build_gan / compile().
        return None

    def call(self, inputs, training=False):
        """G's forward pass: dict {"noise", condition keys} -> images float32 [B, H, W, C]."""
        return self.generator(inputs, training=training)

    # ------------------------------------------------------------------ training
    def train_step(self, batch):
        """One iteration of Reed et al.'s Algorithm 1 (GAN-CLS, plus GAN-INT's G term).

        Args:
            batch: the input pipeline's dict: images float32 [B, H, W, C] in [-1, 1], the
                condition keys and their wrong_* versions. Optional `noise` [B, z_dim]
                replaces the sampled z (tests use it).

        Returns:
            dict of the metric trackers' results.
        """
        config = self.model_config
        images = batch["images"]  # x: real images
        right = self._conditions(batch)  # h: the image's own condition
        wrong = self._wrong_conditions(batch) if config.uses_cls else None  # h^: mismatching
        noise = self._noise(batch)  # z ~ N(0, 1)

        with tf.GradientTape() as g_tape:
            fake = self.generator({"noise": noise, **right}, training=True)  # x^ = G(z, h)
            with tf.GradientTape() as d_tape:
                with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
                    r1_tape.watch(images)  # R1 differentiates s_r with respect to x
                    # D's conv trunk sees only the image: run it once on x for both h and h^.
                    real_features = self._image_features(images, right)
                    real_logits = self._match(real_features, right)  # s_r = D(x, h)
                wrong_logits = None
                if wrong is not None:
                    wrong_logits = self._match(real_features, wrong)  # s_w = D(x, h^)
                fake_features = self._image_features(fake, right)
                fake_logits = self._match(fake_features, right)  # s_f = D(x^, h)
                d_loss_per_example = self._discriminator_loss(
                    real_logits, wrong_logits, fake_logits
                )
                d_aux = g_aux = None
                if self.classifier is not None:  # TAC-GAN: D learns the class of x...
                    labels = batch["labels"]
                    d_aux = losses.auxiliary_class_loss(self.classifier(real_features), labels)
                    d_loss_per_example += config.aux_classifier * d_aux
                    # ...and G is scored on whether x^ shows its caption's class
                    g_aux = losses.auxiliary_class_loss(self.classifier(fake_features), labels)
                r1 = None
                if config.r1_gamma > 0:
                    r1 = self._r1_penalty(r1_tape, real_logits, images)
                    d_loss_per_example += 0.5 * config.r1_gamma * r1
                d_loss = self._average(d_loss_per_example)
                scaled_d_loss = self.d_optimizer.scale_loss(d_loss)
            interp_logits = self._interpolation_logits(noise, right, batch)
            # L_G from the same s_f as L_D (D before its update, as in Algorithm 1): G needs
            # no second forward pass, and g_tape saw G's forward once.
            g_loss_per_example = losses.gan_cls_generator_loss(fake_logits, interp_logits)
            if g_aux is not None:
                g_loss_per_example += config.aux_classifier * g_aux
            mode_seeking = None
            if config.mode_seeking > 0:
                mode_seeking = self._mode_seeking(fake, noise, right)
                g_loss_per_example += config.mode_seeking * mode_seeking
            g_loss = self._average(g_loss_per_example)
            scaled_g_loss = self.g_optimizer.scale_loss(g_loss)

        self._update(d_tape, scaled_d_loss, self.d_variables, self.d_optimizer)
        g_variables = self.generator.trainable_variables
        if config.d_steps == 1:
            self._update(g_tape, scaled_g_loss, g_variables, self.g_optimizer)
            self._update_generator_ema()
        else:
            g_grads = g_tape.gradient(scaled_g_loss, g_variables)
            if self.step % config.d_steps == config.d_steps - 1:  # autograph: a tf.cond
                self._apply(g_grads, g_variables, self.g_optimizer)
                self._update_generator_ema()
        self.step.assign_add(1)

        self.d_loss_tracker.update_state(tf.reduce_mean(d_loss_per_example))
        self.g_loss_tracker.update_state(tf.reduce_mean(g_loss_per_example))
        self.d_real_tracker.update_state(tf.sigmoid(real_logits))
        if wrong_logits is not None:
            self.d_wrong_tracker.update_state(tf.sigmoid(wrong_logits))
        self.d_fake_tracker.update_state(tf.sigmoid(fake_logits))
        if mode_seeking is not None:
            self.ms_loss_tracker.update_state(tf.reduce_mean(mode_seeking))
        if r1 is not None:
            self.r1_tracker.update_state(tf.reduce_mean(r1))
        if d_aux is not None:
            self.d_aux_tracker.update_state(tf.reduce_mean(d_aux))
            self.g_aux_tracker.update_state(tf.reduce_mean(g_aux))
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_loss(self, real_logits, wrong_logits, fake_logits):
        """Reed's matching-aware loss with wrong pairs (GAN-CLS), the plain one without.

        Returns:
            float32 [B], per-example loss.
        """
        smoothing = self.model_config.label_smoothing
        if wrong_logits is None:
            return losses.dcgan_discriminator_loss(real_logits, fake_logits, smoothing)
        return losses.gan_cls_discriminator_loss(real_logits, wrong_logits, fake_logits, smoothing)

    def _r1_penalty(self, tape, real_logits, images):
        """||grad_x D(x, h)||^2 per real pair (Mescheder et al. 2018), float32 [B].

        Called inside D's tape, so that D's update differentiates the gradient (double
        backprop). Under float16 the inner gradient is loss-scaled too: an overflow then
        makes D's loss non-finite and LossScaleOptimizer skips the step.
        """
        scale = self.d_optimizer.scale_loss(tf.constant(1.0))  # 1 unless loss scaling
        # d(scale * sum of s_r)/dx: the logits are the tape's last recorded op
        seed = tf.fill(tf.shape(real_logits), tf.cast(scale, real_logits.dtype))
        grads = tape.gradient(real_logits, images, output_gradients=seed)
        grads = tf.cast(grads, tf.float32) / scale
        return tf.reduce_sum(tf.square(grads), axis=[1, 2, 3])

    def _mode_seeking(self, fake, noise, right):
        """Mao et al.'s mode-seeking term: a second image per condition from fresh noise.

        Args:
            fake: G(z, h), float32 [B, H, W, C].
            noise: z, float32 [B, z_dim].
            right: the conditions h.

        Returns:
            float32 [B], the per-example term (see losses.mode_seeking_loss).
        """
        other_noise = keras.random.normal(tf.shape(noise), seed=self.seed_generator)  # z2
        other = self.generator({"noise": other_noise, **right}, training=True)  # G(z2, h)
        return losses.mode_seeking_loss(fake, other, noise, other_noise)

    def _interpolation_logits(self, noise, right, batch):
        """GAN-INT: D's logits on G(z, beta*t1 + (1-beta)*t2), or None when not enabled.

        t1 is each image's condition and t2 its wrong_* condition from the pipeline (the
        condition of another, shuffled example); only text and attribute vectors are
        interpolated. Only G learns from this term, as in the paper.

        Returns:
            float32 [B] logits, or None.
        """
        if not self.model_config.uses_interp:
            return None
        beta = self.model_config.interp_beta
        interpolated = dict(right)
        for name in INTERPOLABLE_CONDITIONS:
            key = CONDITION_KEYS[name]
            if key in right:
                if WRONG_KEYS[key] not in batch:
                    raise T2IError(
                        f"batch: GAN-INT needs '{WRONG_KEYS[key]}' (or set model.interp: false)"
                    )
                interpolated[key] = beta * right[key] + (1.0 - beta) * batch[WRONG_KEYS[key]]
        fake = self.generator({"noise": noise, **interpolated}, training=True)
        return self._discriminate(fake, interpolated)

    def _discriminate(self, images, conditions):
        """D's logits, float32 [B], with instance noise on the images while it is on."""
        return self._match(self._image_features(images, conditions), conditions)

    def _image_features(self, images, conditions):
        """D's trunk on (augmented, noised) images and the mask: [B, base, base, F]."""
        trunk = self.discriminator.get_layer("d_trunk")
        if self.model_config.augment:
            images = diff_augment(images, self.model_config.augment, self.seed_generator)
        inputs = {"images": self._add_instance_noise(images)}
        if "masks" in conditions:
            inputs["masks"] = conditions["masks"]
        return trunk(inputs, training=True)

    def _match(self, features, conditions):
        """D's head: how well the image features match the conditions; logits float32 [B]."""
        head = self.discriminator.get_layer("d_head")
        inputs = {key: conditions[key] for key in head.input if key != "features"}
        return head({"features": features, **inputs}, training=True)[:, 0]

    def _add_instance_noise(self, images):
        """Adds N(0, sigma^2) to D's inputs; sigma decays linearly to 0 when configured."""
        config = self.model_config
        if config.instance_noise <= 0:
            return images
        sigma = tf.constant(config.instance_noise, tf.float32)
        if config.instance_noise_decay_steps > 0:
            progress = tf.cast(self.step, tf.float32) / float(config.instance_noise_decay_steps)
            sigma *= tf.maximum(0.0, 1.0 - progress)
        noise = keras.random.normal(tf.shape(images), seed=self.seed_generator)
        return images + sigma * noise

    def _update(self, tape, scaled_loss, variables, optimizer):
        """Back-propagates a (scaled) loss into one network's variables and applies it."""
        grads = tape.gradient(scaled_loss, variables)
        self._apply(grads, variables, optimizer)

    def _update_generator_ema(self):
        """G_ema <- G_ema + (1 - d) (G - G_ema) for every weight (batch-norm statistics too).

        d = min(ema_decay, (1 + t) / (10 + t)) at step t, so that early averages do not
        hold on to the initial weights. Runs once per update in cross-replica context
        (merge_call), like an optimizer's apply: each replica's copy gets the same update.
        """
        if self.generator_ema is None:
            return
        pairs = [
            (average.value, weight.value)
            for average, weight in zip(
                self.generator_ema.weights, self.generator.weights, strict=True
            )
        ]

        def update(strategy, pairs):
            t = tf.cast(self.step, tf.float32)
            rate = 1.0 - tf.minimum(self.model_config.ema_decay, (1.0 + t) / (10.0 + t))
            for average, weight in pairs:
                strategy.extended.update(
                    average,
                    lambda a, w: a.assign_add(tf.cast(rate, a.dtype) * (w - a)),
                    args=(weight,),
                    group=False,
                )

        tf.__internal__.distribute.interim.maybe_merge_call(
            update, tf.distribute.get_strategy(), pairs
        )

    @staticmethod
    def _apply(grads, variables, optimizer):
        # LossScaleOptimizer unscales here and skips the step on inf/NaN gradients.
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    @staticmethod
    def _average(per_example_loss):
        """Mean over the global batch, so that summed replica gradients are right."""
        replicas = tf.distribute.get_replica_context().num_replicas_in_sync
        global_batch = tf.shape(per_example_loss)[0] * replicas
        return tf.nn.compute_average_loss(per_example_loss, global_batch_size=global_batch)

    def _conditions(self, batch):
        """The condition tensors of a batch, keyed like G's and D's inputs."""
        missing = [k for k in self.model_config.condition_keys if k not in batch]
        if missing:
            raise T2IError(f"batch: missing condition key(s) {missing} for this model")
        return {key: batch[key] for key in self.model_config.condition_keys}

    def _wrong_conditions(self, batch):
        """The right conditions with every vector condition replaced by its wrong_* version."""
        wrong = {}
        for key in self.model_config.condition_keys:
            wrong_key = WRONG_KEYS.get(key)
            if wrong_key is not None and wrong_key not in batch:
                raise T2IError(f"batch: GAN-CLS needs '{wrong_key}' (or set model.cls: false)")
            wrong[key] = batch[wrong_key] if wrong_key else batch[key]
        return wrong

    def _noise(self, batch):
        """z ~ N(0, 1), float32 [B, z_dim]; `batch["noise"]` if given."""
        if "noise" in batch:
            return tf.cast(batch["noise"], tf.float32)
        shape = (tf.shape(batch["images"])[0], self.model_config.z_dim)
        return keras.random.normal(shape, seed=self.seed_generator)

    # ------------------------------------------------------------------ style encoder
    def train_style_encoder_step(self, batch):
        """One update of the style encoder S on ||z - S(G(z, c))||^2 with G frozen.

        Args:
            batch: the input pipeline's dict (only the condition keys and the batch size of
                `images` are used; optional `noise`).

        Returns:
            dict {"s_loss": mean loss of the batch}.
        """
        if self.style_encoder is None:
            raise T2IError("model.style_encoder is off: there is no style encoder to train")
        noise = self._noise(batch)  # z
        # S inverts the generator that transfer_style draws with (G_ema when it is on).
        generator = self.inference_generator
        conditions = self._conditions(batch)
        fake = generator({"noise": noise, **conditions}, training=False)
        weight = self.model_config.style_reconstruction
        with tf.GradientTape() as tape:
            predicted = self.style_encoder(fake, training=True)  # S(G(z, c))
            per_example = losses.style_encoder_loss(noise, predicted)
            if weight > 0:  # G(S(x), c_x) should redraw the real x
                images = batch["images"]
                style = self.style_encoder(images, training=True)
                redrawn = generator({"noise": style, **conditions}, training=False)
                per_example += weight * losses.reconstruction_loss(images, redrawn)
            scaled_loss = self.s_optimizer.scale_loss(self._average(per_example))
        variables = self.style_encoder.trainable_variables
        self._update(tape, scaled_loss, variables, self.s_optimizer)
        self.s_loss_tracker.update_state(tf.reduce_mean(per_example))
        return {"s_loss": self.s_loss_tracker.result()}

    def transfer_style(self, images, conditions):
        """Draws images with the style of `images` and the content of `conditions`: G(S(x), c).

        Args:
            images: float32 [N, H, W, C] in [-1, 1], the style sources.
            conditions: dict of condition tensors for N images (as in generate()).

        Returns:
            float32 [N, H, W, C] in [-1, 1].
        """
        if self.style_encoder is None:
            raise T2IError("model.style_encoder is off: style transfer needs it")
        noise = self.style_encoder(tf.convert_to_tensor(images, tf.float32), training=False)
        return self.generate(conditions, noise=noise)

    # ------------------------------------------------------------------ inference
    def generate(self, conditions, noise=None, seed=None, num_images=None, use_ema=True):
        """Draws images for the given conditions (with G_ema when model.ema_decay > 0).

        Args:
            conditions: dict with this model's condition keys among "embeddings" float32
                [N, D], "attributes" float32 [N, A], "labels" int [N], "masks" float32
                [N, H, W, 1] in [0, 1]; extra keys are ignored. {} for a DCGAN.
            noise: optional float32 [N, z_dim]; sampled from N(0, 1) when None.
            seed: optional int making the sampled noise deterministic.
            num_images: N, needed only when there are neither conditions nor noise.
            use_ema: False draws with G's own weights even when G_ema exists.

        Returns:
            float32 [N, H, W, C] in [-1, 1].
        """
        inputs = {}
        for key in self.model_config.condition_keys:
            if key not in conditions:
                raise T2IError(f"generate: condition '{key}' is required by this model")
            dtype = tf.int64 if key == "labels" else tf.float32
            inputs[key] = tf.convert_to_tensor(conditions[key], dtype)
        if noise is None:
            if inputs:
                count = tf.shape(next(iter(inputs.values())))[0]
            elif num_images is not None:
                count = num_images
            else:
                raise T2IError("generate: pass noise or num_images for an unconditional model")
            shape = tf.stack([count, self.model_config.z_dim])
            if seed is None:
                noise = tf.random.normal(shape)
            else:
                noise = tf.random.stateless_normal(shape, seed=[seed, 0])
        inputs["noise"] = tf.convert_to_tensor(noise, tf.float32)
        generator = self.inference_generator if use_ema else self.generator
        images = generator(inputs, training=False)
        return tf.cast(images, tf.float32)

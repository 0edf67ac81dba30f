"""ConditionalGAN: one keras.Model for DCGAN, GAN-CLS, GAN-INT(-CLS), attribute, class and
mask conditioning, with the style encoder of Reed et al. 2016."""

from __future__ import annotations

import contextlib

import keras
import tensorflow as tf

from tf_t2i import losses
from tf_t2i.errors import T2IError
from tf_t2i.models.augment import add_instance_noise, diff_augment
from tf_t2i.models.conditions import interpolated_conditions, right_conditions, wrong_conditions
from tf_t2i.models.config import ModelConfig
from tf_t2i.models.discriminator import build_classifier, build_discriminator
from tf_t2i.models.ema import update_moving_average
from tf_t2i.models.generator import build_generator
from tf_t2i.models.kernels import jit_compile
from tf_t2i.models.sampling import draw
from tf_t2i.models.style_encoder import build_style_encoder


@keras.saving.register_keras_serializable(package="tf_t2i")
class ConditionalGAN(keras.Model):
    """A conditional DCGAN trained with Reed et al.'s GAN-CLS / GAN-INT algorithm.

    `fit()` on the input pipeline's dataset runs `train_step` (one D update, and one G update
    every `d_steps` steps). After the GAN, `train_style_encoder_step` (or
    `StyleEncoderTrainer(gan).fit(...)`) trains the style encoder with G frozen; with
    `latent_regression_weight` S also trains with G during the GAN.

    Args:
        model_config: a ModelConfig (or its dict).
        seed: optional int seed for the noise sampled in train_step.
        **kwargs: passed to keras.Model (name, ...).

    Example:
        >>> gan = build_gan(ModelConfig(image_size=32, ngf=8, ndf=8, embedding_dim=16))
        >>> gan.fit(make_dataset(data_dir, batch_size=64, repeat=False), epochs=1)
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
        # TAC-GAN's auxiliary classifier on D's trunk features, trained with D (aux_weight)
        self.classifier = (
            build_classifier(model_config, self.discriminator.get_layer("d_trunk"))
            if model_config.aux_weight > 0
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
        # The weight of each loss term; one tracker per term and per total, named
        # d_loss, d_gan_cls, d_r1, ..., g_loss, g_gan, g_gan_int, g_mode_seeking, ...
        self.d_weights, self.g_weights = model_config.loss_weights()
        names = ["d_loss", "g_loss", "d_real"]
        names += ["d_wrong"] if model_config.uses_cls else []
        names += ["d_fake", *(f"d_{t}" for t in self.d_weights)]
        names += [f"g_{t}" for t in self.g_weights]
        self.trackers = {name: keras.metrics.Mean(name=name) for name in names}
        self.s_loss_tracker = keras.metrics.Mean(name="s_loss")
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
        g_optimizer.build(self.g_variables)
        if self.style_encoder is not None:
            if s_optimizer is None:
                raise T2IError("model.style_encoder is on: compile() needs an s_optimizer")
            s_optimizer.build(self.style_encoder.trainable_variables)

    @property
    def metrics(self):
        """The trackers reset by fit() at each epoch: d_loss, g_loss (the weighted totals),
        D's mean scores d_real, d_wrong (with GAN-CLS), d_fake, and one per loss term."""
        return list(self.trackers.values())

    @property
    def d_variables(self) -> list:
        """What D's optimizer trains: D's weights, and the auxiliary classifier's if any."""
        variables = list(self.discriminator.trainable_variables)
        if self.classifier is not None:
            variables += self.classifier.trainable_variables
        return variables

    @property
    def g_variables(self) -> list:
        """What G's optimizer trains: G's weights, and S's when S trains with G on the
        latent-regression term (the only one of G's terms that depends on S)."""
        variables = list(self.generator.trainable_variables)
        if "latent_regression" in self.g_weights:
            variables += self.style_encoder.trainable_variables
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
        """One iteration of Reed et al.'s Algorithm 1 (GAN-CLS, with GAN-INT's G term).

        1. x, h, h^, z from the batch; x^ = G(z, h).
        2. D's terms on s_r = D(x, h), s_w = D(x, h^), s_f = D(x^, h); D's update.
        3. G's terms on the same s_f (D before its update, as in the paper), GAN-INT's
           interpolated captions, and the regularisers; G's update (with S's, when S
           trains with G on the latent-regression term). With d_steps > 1, G's
           turn comes every d_steps-th step, and on the other steps none of G's work runs.

        Args:
            batch: the input pipeline's dict: images float32 [B, H, W, C] in [-1, 1], the
                condition keys and their wrong_* versions. Optional `noise` [B, z_dim]
                replaces the sampled z (tests use it).

        Returns:
            dict of the metric trackers' results.
        """
        d_steps = self.model_config.d_steps
        if d_steps == 1:
            return self.train_iteration(batch, generator_turn=True)
        if tf.distribute.get_replica_context().num_replicas_in_sync > 1:
            # An optimizer's all-reduce may not sit in a tf.cond inside strategy.run.
            raise T2IError(
                "model.d_steps > 1 with several replicas: call train_iteration(batch, "
                "generator_turn) with the turn chosen outside strategy.run (t2i fit does)"
            )
        return tf.cond(
            self.is_generator_turn(),
            lambda: self.train_iteration(batch, generator_turn=True),
            lambda: self.train_iteration(batch, generator_turn=False),
        )

    def is_generator_turn(self):
        """Whether this step updates G too: every d_steps-th step; a bool tensor."""
        d_steps = self.model_config.d_steps
        return self.step % d_steps == d_steps - 1

    def train_iteration(self, batch, generator_turn: bool):
        """D's update, and G's when `generator_turn` (a Python bool); see train_step.

        Returns:
            dict of the metric trackers' results.
        """
        config = self.model_config
        images = batch["images"]  # x: real images
        right = right_conditions(config, batch)  # h: the image's own condition
        wrong = wrong_conditions(config, batch) if config.uses_cls else None  # h^: mismatching
        noise = self.sample_noise(batch)  # z ~ N(0, 1)
        g_tape = tf.GradientTape() if generator_turn else contextlib.nullcontext()
        with g_tape:
            fake = self.generator({"noise": noise, **right}, training=True)  # x^ = G(z, h)
            with tf.GradientTape() as d_tape:
                d_terms, scores = self._discriminator_terms(images, right, wrong, fake, batch)
                d_loss = losses.weighted_sum(d_terms, self.d_weights)
                scaled_d_loss = self.d_optimizer.scale_loss(losses.global_mean(d_loss))
            if generator_turn:
                g_terms = self._generator_terms(fake, noise, right, batch, scores)
                g_loss = losses.weighted_sum(g_terms, self.g_weights)
                scaled_g_loss = self.g_optimizer.scale_loss(losses.global_mean(g_loss))

        self.apply_loss(d_tape, scaled_d_loss, self.d_variables, self.d_optimizer)
        self._track("d", d_loss, d_terms)
        for name in ("real", "wrong", "fake"):
            if scores[name] is not None:
                self.trackers[f"d_{name}"].update_state(tf.sigmoid(scores[name]))
        if generator_turn:
            self.apply_loss(g_tape, scaled_g_loss, self.g_variables, self.g_optimizer)
            if self.generator_ema is not None:
                update_moving_average(
                    self.generator_ema, self.generator, self.step, self.model_config.ema_decay
                )
            self._track("g", g_loss, g_terms)
        self.step.assign_add(1)
        return {m.name: m.result() for m in self.metrics}

    def _discriminator_terms(self, images, right, wrong, fake, batch):
        """D's per-example loss terms (named as in ModelConfig.loss_weights) and its scores.

        Returns:
            (terms: name -> float32 [B], scores: {"real", "wrong", "fake": logits [B] or
            None, "fake_features": D's trunk features of x^}).
        """
        with tf.GradientTape(watch_accessed_variables=False) as r1_tape:
            r1_tape.watch(images)  # R1 differentiates s_r with respect to x
            # D's conv trunk sees only the image: run it once on x for both h and h^.
            real_features = self._image_features(images, right)
            real_logits = self._match(real_features, right)  # s_r = D(x, h)
        wrong_logits = None if wrong is None else self._match(real_features, wrong)  # s_w
        fake_features = self._image_features(fake, right)
        fake_logits = self._match(fake_features, right)  # s_f = D(x^, h)
        smoothing = self.model_config.real_label
        if wrong_logits is None:
            terms = {"gan": losses.dcgan_discriminator_loss(real_logits, fake_logits, smoothing)}
        else:
            terms = {
                "gan_cls": losses.gan_cls_discriminator_loss(
                    real_logits, wrong_logits, fake_logits, smoothing
                )
            }
        if "aux" in self.d_weights:  # TAC-GAN: D learns the class of x
            real_classes = self.classifier(real_features)
            terms["aux"] = losses.auxiliary_class_loss(real_classes, batch["labels"])
        if "r1" in self.d_weights:
            terms["r1"] = losses.r1_penalty(self._input_gradients(r1_tape, real_logits, images))
        scores = {
            "real": real_logits,
            "wrong": wrong_logits,
            "fake": fake_logits,
            "fake_features": fake_features,
        }
        return terms, scores

    def _generator_terms(self, fake, noise, right, batch, scores):
        """G's per-example loss terms (named as in ModelConfig.loss_weights).

        L_G uses the same s_f as L_D: G needs no second forward pass of D.
        """
        terms = {"gan": losses.dcgan_generator_loss(scores["fake"])}
        other = None  # G(z, h') for another condition h', the same z
        if "gan_int" in self.g_weights:
            other, interpolation_logits = self._interpolation(noise, right, batch)
            terms["gan_int"] = losses.dcgan_generator_loss(interpolation_logits)
        if "aux" in self.g_weights:  # does x^ show its caption's class?
            fake_classes = self.classifier(scores["fake_features"])
            terms["aux"] = losses.auxiliary_class_loss(fake_classes, batch["labels"])
        if "mode_seeking" in self.g_weights:
            terms["mode_seeking"] = self._mode_seeking(fake, noise, right)
        if "latent_regression" in self.g_weights:  # can S read z back from x^ alone?
            predicted = self.style_encoder(fake, training=True)
            terms["latent_regression"] = losses.latent_regression_loss(noise, predicted)
        if "style_consistency" in self.g_weights:  # the caption moves only what it names
            if other is None:
                wrong = wrong_conditions(self.model_config, batch)
                other = self.generator({"noise": noise, **wrong}, training=True)
            terms["style_consistency"] = losses.reconstruction_loss(fake, other)
        return terms

    def _track(self, network: str, loss, terms) -> None:
        """Updates `{network}_loss` and one `{network}_{term}` tracker per term."""
        self.trackers[f"{network}_loss"].update_state(tf.reduce_mean(loss))
        for name, term in terms.items():
            self.trackers[f"{network}_{name}"].update_state(tf.reduce_mean(term))

    def _input_gradients(self, tape, real_logits, images):
        """d s_r / dx for R1, float32 [B, H, W, C].

        Called inside D's tape, so that D's update differentiates the gradient (double
        backprop). Under float16 the inner gradient is loss-scaled too: an overflow then
        makes D's loss non-finite and LossScaleOptimizer skips the step.
        """
        scale = self.d_optimizer.scale_loss(tf.constant(1.0))  # 1 unless loss scaling
        # d(scale * sum of s_r)/dx: the logits are the tape's last recorded op
        seed = tf.fill(tf.shape(real_logits), tf.cast(scale, real_logits.dtype))
        grads = tape.gradient(real_logits, images, output_gradients=seed)
        return tf.cast(grads, tf.float32) / scale

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

    def _interpolation(self, noise, right, batch):
        """GAN-INT: G(z, beta*t1 + (1-beta)*t2) and D's logits on it, float32 [B].

        Only G learns from this term, as in the paper (models/conditions.py interpolates).

        Returns:
            (the images [B, H, W, C], D's logits [B]).
        """
        interpolated = interpolated_conditions(self.model_config, right, batch)
        fake = self.generator({"noise": noise, **interpolated}, training=True)
        return fake, self._discriminate(fake, interpolated)

    def _discriminate(self, images, conditions):
        """D's logits, float32 [B], with instance noise on the images while it is on."""
        return self._match(self._image_features(images, conditions), conditions)

    def _image_features(self, images, conditions):
        """D's trunk on (augmented, noised) images and the mask: [B, base, base, F]."""
        trunk = self.discriminator.get_layer("d_trunk")
        if self.model_config.augment:
            images = diff_augment(images, self.model_config.augment, self.seed_generator)
        inputs = {
            "images": add_instance_noise(images, self.model_config, self.step, self.seed_generator)
        }
        if "masks" in conditions:
            inputs["masks"] = conditions["masks"]
        return trunk(inputs, training=True)

    def _match(self, features, conditions):
        """D's head: how well the image features match the conditions; logits float32 [B]."""
        head = self.discriminator.get_layer("d_head")
        inputs = {key: conditions[key] for key in head.input if key != "features"}
        return head({"features": features, **inputs}, training=True)[:, 0]

    @staticmethod
    def apply_loss(tape, scaled_loss, variables, optimizer):
        """Back-propagates a (scaled) loss into one network's variables and applies it
        (D's, G's and, in style_trainer.py, S's update).

        LossScaleOptimizer unscales here and skips the step on inf/NaN gradients.
        """
        grads = tape.gradient(scaled_loss, variables)
        optimizer.apply_gradients(zip(grads, variables, strict=True))

    def sample_noise(self, batch):
        """z ~ N(0, 1), float32 [B, z_dim]; `batch["noise"]` if given."""
        if "noise" in batch:
            return tf.cast(batch["noise"], tf.float32)
        shape = (tf.shape(batch["images"])[0], self.model_config.z_dim)
        return keras.random.normal(shape, seed=self.seed_generator)

    # ------------------------------------------------------------------ style encoder
    def train_style_encoder_step(self, batch):
        """One update of the style encoder S with G frozen (models/style_trainer.py).

        Returns:
            dict {"s_loss": the running mean loss}.
        """
        from tf_t2i.models.style_trainer import style_encoder_step

        return style_encoder_step(self, batch)

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
            noise: optional float32 [N, z_dim]; when None, sampled as the model samples:
                N(0, 1), or with model.truncation s, N(0, 1) redrawn beyond +-2, times s.
            seed: optional int making the sampled noise deterministic.
            num_images: N, needed only when there are neither conditions nor noise.
            use_ema: False draws with G's own weights even when G_ema exists.

        Returns:
            float32 [N, H, W, C] in [-1, 1].
        """
        generator = self.inference_generator if use_ema else self.generator
        return draw(generator, self.model_config, conditions, noise, seed, num_images)

"""ModelConfig: every switch of the networks and of the GAN training algorithm."""

from __future__ import annotations

import dataclasses
import math

from tf_t2i.errors import T2IError
from tf_t2i.models.kernels import KERNELS

# Condition name -> key of the batch dict (and of the generator's / discriminator's inputs).
CONDITION_KEYS = {
    "text": "embeddings",
    "attributes": "attributes",
    "class": "labels",
    "mask": "masks",
}
# Conditions that are one vector per image: projected, tiled in D, have "wrong" versions.
VECTOR_CONDITIONS = ("text", "attributes", "class")
# Conditions that can be interpolated (GAN-INT): continuous vectors only.
INTERPOLABLE_CONDITIONS = ("text", "attributes")
IMAGE_SIZES = (28, 32, 64, 128)
# DiffAugment policies (tf_t2i/models/augment.py keeps the transforms).
AUGMENT_POLICIES = ("color", "translation", "cutout")
# |z| beyond this is redrawn when sampling with truncation: DF-GAN's bound, and the two
# standard deviations at which tf.random.truncated_normal (the in-graph samplers) redraws
TRUNCATION_BOUND = 2.0
# Fields that leave the weights alone, so a checkpoint fits whatever their values (a run
# may resume with others): how the weights are computed and how the trained model samples.
WEIGHTLESS_FIELDS = ("kernels", "truncation")
# Recipe keys that were renamed: old -> new. An old key is an error that names the new one.
RENAMED_FIELDS = {
    "label_smoothing": "real_label",
    "aux_classifier": "aux_weight",
    "mode_seeking": "mode_seeking_weight",
    "style_reconstruction": "style_reconstruction_weight",
}


def renamed_field_error(name: str, where: str = "model config") -> T2IError | None:
    """The error for a renamed ModelConfig field, or None when `name` was not renamed."""
    if name not in RENAMED_FIELDS:
        return None
    return T2IError(f"{where}: model.{name} was renamed; use model.{RENAMED_FIELDS[name]}")


@dataclasses.dataclass
class ModelConfig:
    """Networks and training algorithm of a ConditionalGAN (defaults: Reed et al. 2016).

    Attributes are grouped as: image, networks, conditions, GAN-CLS / GAN-INT, tricks,
    optimisers, style encoder. `validate()` raises T2IError naming the bad field.
    """

    # --- image ---
    image_size: int = 64  # square output side: 28, 32, 64 or 128
    channels: int = 3  # 1 (grey) or 3 (RGB)
    # --- networks ---
    z_dim: int = 100  # noise size; z ~ N(0, 1)
    ngf: int = 64  # generator width: the 4x4 block has ngf*8 channels
    ndf: int = 64  # discriminator width: the 4x4 block has ndf*8 channels
    sync_batch_norm: bool = False  # batch statistics over all replicas under tf.distribute
    # auto | cpu | stock: the project's CPU kernels, or Keras's; auto = cpu when no GPU or
    # TPU is visible (models/kernels.py). Checkpoints restore across the settings.
    kernels: str = "auto"
    minibatch_stddev: bool = False  # D sees the batch's feature spread (against mode collapse)
    # D adds <V phi(c), mean_xy features> (projection discriminator); a no-op without a
    # text, attributes or class condition, so recipes can keep it on under --condition none
    projection: bool = False
    # D's convs and its projection term divide their kernels by their largest singular value
    # (Miyato et al.'s spectral normalisation; one power iteration per training call). The
    # caption's own projection is left as it is: the batch norm after it would undo it.
    spectral_norm: bool = False
    # G turns its image about the centre by style_rotation * tanh(z . w + b) radians, w and
    # b learnt (models/layers.py NoiseRotation): a pose the captions leave free as one
    # direction of z (LR-GAN's transform of its foreground). 0 = off. Not with masks.
    style_rotation: float = 0.0
    # --- conditions ---
    conditions: list[str] = dataclasses.field(default_factory=lambda: ["text"])  # [] = DCGAN
    embedding_dim: int = 512  # size of a caption embedding (the text encoder's dim)
    num_attributes: int = 0  # size of an attribute vector
    num_classes: int = 0  # number of class labels (for the "class" condition)
    proj_dim: int = 128  # each vector condition is projected to this size
    mask_resolutions: list[int] | None = None  # where masks are concatenated; None = everywhere
    mask_noise: float = 0.0  # stddev of Gaussian noise added to masks while training
    # --- GAN-CLS / GAN-INT ---
    cls: bool = True  # matching-aware D: (real image, wrong condition) counts as fake
    interp: bool = True  # G also learns on beta*t1 + (1-beta)*t2 (text / attributes)
    interp_beta: float = 0.5
    # --- tricks ---
    # D's target for real pairs: 0.9 is one-sided label smoothing, 1.0 is none (Keras's
    # label_smoothing=0.1 would be real_label 0.95; this is the target itself)
    real_label: float = 0.9
    instance_noise: float = 0.0  # stddev of noise added to D's images (0 = off)
    instance_noise_decay_steps: int = 0  # linear decay to 0 over this many steps (0 = constant)
    d_steps: int = 1  # D updates per G update
    # Mescheder et al.'s R1: D's loss adds r1_gamma/2 ||grad_x D(x, h)||^2 on real pairs,
    # against the oscillation of unregularised GANs (0 = off; one more backward pass of D)
    r1_gamma: float = 0.0
    # TAC-GAN (Dash et al. 2017, after Odena et al.'s AC-GAN): an auxiliary head on D's
    # pooled features learns the class of real images (weight * cross-entropy in D's loss),
    # and G's loss adds weight * the cross-entropy of its images against their caption's
    # class. Needs class labels in the data (num_classes, filled by fit); 0 = off.
    aux_weight: float = 0.0
    # weight of Mao et al.'s mode-seeking term, which makes G use z (0 = off; +1 G pass)
    mode_seeking_weight: float = 0.0
    # DiffAugment policies applied to every image D sees while training (models/augment.py):
    # any of "color", "translation", "cutout"; [] = off. For small data sets.
    augment: list[str] = dataclasses.field(default_factory=list)
    # Samples, evaluation and export use a moving average of G's weights, updated after
    # each G step with this decay (warm-up: min(decay, (1+t)/(10+t))); 0 = off, G itself.
    ema_decay: float = 0.0
    # How the model samples when it draws its own noise (generate(), the sample grids, the
    # export's seeded noise, `t2i generate` and `t2i evaluate` by default): 0 = N(0, 1); s in
    # (0, 1] = N(0, 1) redrawn beyond +-TRUNCATION_BOUND, times s (DF-GAN, BigGAN): closer to
    # each caption's typical image, less varied. Training always draws N(0, 1).
    truncation: float = 0.0
    # --- optimisers (Adam) ---
    g_lr: float = 2e-4
    d_lr: float = 2e-4
    beta_1: float = 0.5
    lr_decay_steps: int = 0  # multiply the learning rates by lr_decay_rate every N steps (0 = off)
    lr_decay_rate: float = 0.5
    # --- style encoder (Reed sec. 4.4) ---
    style_encoder: bool = False
    s_lr: float = 2e-4
    # S also learns to redraw real images: + weight * mean |G(S(x), c_x) - x| (G frozen), so
    # that S(x) carries the real image's style and not only G's own (0 = Reed's loss alone)
    style_reconstruction_weight: float = 0.0
    # S also trains during the GAN, and G's loss adds weight * mean |z - S(G(z, h))| (the
    # latent regression of InfoGAN / BicycleGAN's cLR-GAN): S reads the image only, so G
    # must draw z the same way whatever the caption, which is what style transfer needs
    # (0 = off, S trains after the GAN only; needs style_encoder; +1 S pass per G step)
    latent_regression_weight: float = 0.0
    # G's loss adds weight * mean |G(z, h) - G(z, h')| for one z and another condition h'
    # (GAN-INT's interpolated one, else the wrong one; +1 G pass then): a caption should
    # move only the pixels it names, so the style z draws (the background) stays the same
    # across captions, which style transfer needs (0 = off; inactive, like cls and interp,
    # without a text, attributes or class condition, e.g. `--condition mask` on a recipe)
    style_consistency_weight: float = 0.0

    def to_dict(self) -> dict:
        """Returns a JSON-serialisable dict of every field."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> ModelConfig:
        """Builds a config from a dict, rejecting unknown keys.

        Args:
            values: field name -> value (missing fields take their defaults).

        Returns:
            A validated ModelConfig.

        Raises:
            T2IError: on an unknown field or an invalid value.
        """
        names = {f.name for f in dataclasses.fields(cls)}
        for name in values:
            error = renamed_field_error(name)
            if error is not None:
                raise error
        unknown = sorted(set(values) - names)
        if unknown:
            raise T2IError(f"model config: unknown field(s) {unknown}; known: {sorted(names)}")
        config = cls(**values)
        config.validate()
        return config

    # --- derived geometry ---
    @property
    def base_size(self) -> int:
        """Side of the smallest feature map (7 for 28x28 images, else 4)."""
        return 7 if self.image_size == 28 else 4

    @property
    def num_blocks(self) -> int:
        """Number of 2x up-sampling blocks in G (= down-sampling blocks in D)."""
        return int(math.log2(self.image_size // self.base_size))

    @property
    def condition_keys(self) -> list[str]:
        """Batch keys of the conditions, in config order."""
        return [CONDITION_KEYS[name] for name in self.conditions]

    @property
    def vector_conditions(self) -> list[str]:
        """The conditions that are one vector per image (text, attributes, class)."""
        return [name for name in self.conditions if name in VECTOR_CONDITIONS]

    @property
    def uses_cls(self) -> bool:
        """Whether the matching-aware (wrong condition) term is active."""
        return self.cls and bool(self.vector_conditions)

    @property
    def uses_interp(self) -> bool:
        """Whether the interpolation (GAN-INT) term is active."""
        return self.interp and any(c in INTERPOLABLE_CONDITIONS for c in self.conditions)

    def loss_weights(self) -> tuple[dict[str, float], dict[str, float]]:
        """The weight of each of D's and G's loss terms, for the terms this config turns on.

        D: `gan_cls` (Reed's matching-aware loss; `gan` without wrong pairs), `aux` (TAC-GAN),
        `r1` (gamma / 2). G: `gan` (-log D(G(z, h), h)), `gan_int` (the same on interpolated
        conditions), `aux`, `mode_seeking`, `latent_regression`, `style_consistency`. The
        order is the order in which they are summed.

        Returns:
            (discriminator weights, generator weights), each name -> float.
        """
        d_weights = {"gan_cls" if self.uses_cls else "gan": 1.0}
        g_weights = {"gan": 1.0}
        if self.uses_interp:
            g_weights["gan_int"] = 1.0
        if self.aux_weight > 0:
            d_weights["aux"] = self.aux_weight
            g_weights["aux"] = self.aux_weight
        if self.r1_gamma > 0:
            d_weights["r1"] = 0.5 * self.r1_gamma
        if self.mode_seeking_weight > 0:
            g_weights["mode_seeking"] = self.mode_seeking_weight
        if self.latent_regression_weight > 0:
            g_weights["latent_regression"] = self.latent_regression_weight
        if self.style_consistency_weight > 0 and self.vector_conditions:
            g_weights["style_consistency"] = self.style_consistency_weight
        return d_weights, g_weights

    def generator_mask_resolutions(self) -> list[int]:
        """Resolutions of G's block inputs where the mask is concatenated."""
        if "mask" not in self.conditions:
            return []
        candidates = [self.base_size * 2**i for i in range(self.num_blocks)]
        wanted = candidates if self.mask_resolutions is None else self.mask_resolutions
        return [r for r in candidates if r in wanted]

    def discriminator_mask_resolutions(self) -> list[int]:
        """Resolutions of D's block inputs (and of its 4x4 head) where the mask is concatenated."""
        if "mask" not in self.conditions:
            return []
        candidates = [self.image_size // 2**i for i in range(self.num_blocks + 1)]
        wanted = candidates if self.mask_resolutions is None else self.mask_resolutions
        return [r for r in candidates if r in wanted]

    def validate(self) -> None:
        """Checks every field; raises T2IError naming the first bad one."""
        if self.image_size not in IMAGE_SIZES:
            raise T2IError(f"model.image_size: {self.image_size} is not one of {IMAGE_SIZES}")
        if self.kernels not in KERNELS:
            raise T2IError(f"model.kernels: {self.kernels!r} is not one of {', '.join(KERNELS)}")
        if self.channels not in (1, 3):
            raise T2IError(f"model.channels: {self.channels} must be 1 or 3")
        for name in ("z_dim", "ngf", "ndf", "proj_dim", "d_steps"):
            if int(getattr(self, name)) < 1:
                raise T2IError(f"model.{name}: must be >= 1, got {getattr(self, name)}")
        if self.ngf * 8 // 2 ** (self.num_blocks - 1) < 1 or self.ndf * 8 // 2**self.num_blocks < 1:
            raise T2IError("model.ngf/ndf: too small for this image_size")
        unknown = [c for c in self.conditions if c not in CONDITION_KEYS]
        if unknown:
            raise T2IError(
                f"model.conditions: unknown {unknown}; choose from {sorted(CONDITION_KEYS)}"
            )
        if len(set(self.conditions)) != len(self.conditions):
            raise T2IError(f"model.conditions: repeated entries in {self.conditions}")
        needs = {"text": "embedding_dim", "attributes": "num_attributes", "class": "num_classes"}
        for condition, field in needs.items():
            if condition in self.conditions and getattr(self, field) < 1:
                raise T2IError(f"model.{field}: must be >= 1 with the '{condition}' condition")
        if self.aux_weight > 0 and self.num_classes < 1:
            raise T2IError("model.num_classes: must be >= 1 with model.aux_weight")
        if self.mask_resolutions is not None:
            allowed = {self.base_size * 2**i for i in range(self.num_blocks + 1)}
            bad = [r for r in self.mask_resolutions if r not in allowed]
            if bad:
                raise T2IError(
                    f"model.mask_resolutions: {bad} not among the feature-map sizes "
                    f"{sorted(allowed)} of a {self.image_size}x{self.image_size} model"
                )
        bad = [p for p in self.augment if p not in AUGMENT_POLICIES]
        if bad:
            raise T2IError(f"model.augment: unknown {bad}; choose from {list(AUGMENT_POLICIES)}")
        moving = [p for p in self.augment if p in ("translation", "cutout")]
        if moving and "mask" in self.conditions:
            raise T2IError(
                f"model.augment: {moving} would move the image off its mask; use 'color' only "
                "with the mask condition"
            )
        if not 0.0 <= self.interp_beta <= 1.0:
            raise T2IError(f"model.interp_beta: must be in [0, 1], got {self.interp_beta}")
        if not 0.0 < self.real_label <= 1.0:
            raise T2IError(f"model.real_label: must be in (0, 1], got {self.real_label}")
        for name in (
            "instance_noise",
            "mask_noise",
            "instance_noise_decay_steps",
            "mode_seeking_weight",
            "r1_gamma",
            "aux_weight",
            "style_reconstruction_weight",
            "latent_regression_weight",
            "style_consistency_weight",
            "style_rotation",
        ):
            if getattr(self, name) < 0:
                raise T2IError(f"model.{name}: must be >= 0, got {getattr(self, name)}")
        if self.style_rotation >= math.pi / 2:
            raise T2IError(f"model.style_rotation: must be < pi/2 rad, got {self.style_rotation}")
        if self.style_rotation > 0 and "mask" in self.conditions:
            raise T2IError(
                "model.style_rotation: would turn the image off its mask; "
                "set model.style_rotation=0 with the mask condition"
            )
        if self.latent_regression_weight > 0 and not self.style_encoder:
            raise T2IError("model.latent_regression_weight: needs model.style_encoder: true")
        for name in ("g_lr", "d_lr", "s_lr"):
            if getattr(self, name) <= 0:
                raise T2IError(f"model.{name}: must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise T2IError(f"model.ema_decay: must be in [0, 1), got {self.ema_decay}")
        if not 0.0 <= self.truncation <= 1.0:
            raise T2IError(
                f"model.truncation: must be 0 (plain N(0, 1) noise) or in (0, 1], "
                f"got {self.truncation}"
            )
        if self.lr_decay_steps < 0 or not 0.0 < self.lr_decay_rate <= 1.0:
            raise T2IError("model.lr_decay_steps must be >= 0 and lr_decay_rate in (0, 1]")

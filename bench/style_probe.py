"""Does G use z? A quick screen of one shapes run's checkpoint, used to compare remedies.

For 24 held-out captions that leave the background free and 24 that name it, it
draws 32 images each (fixed noise) and reads them with the data set's evaluator:

  bg_spread    entropy of the predicted background over the 32 samples of a
               caption that leaves it free, / log(3) (1 = evenly spread)
  bg_named     fraction of samples showing the background that the caption names
  color, class colour and colour x kind accuracy over all 48 captions
  z_change     mean |G(z1, c) - G(z2, c)| in [-1, 1] pixels over 32 captions,
  c_change     mean |G(z, c1) - G(z, c2)| (another caption): how much of G's
               output the noise moves, against the caption (in G's training mode
               too, to rule out batch-norm statistics as the cause)
  st_bg_keep   with a style encoder: fraction of G(S(x), t) whose background is x's,
               for captions t that leave it free; st_class: its colour x kind is t's

    .venv/bin/python -m bench.style_probe RUN_DIR [--checkpoint PREFIX]

`t2i evaluate` reports the style metrics of record; this screen is the one
behind bench/results/style_remedies.md.
"""

import argparse
import json

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoint", help="checkpoint prefix (default: the latest)")
    parser.add_argument("--seeds", type=int, default=32)
    args = parser.parse_args(argv)

    from tf_t2i.evaluation.evaluate import _collect_real, get_evaluator
    from tf_t2i.training.run_dir import load_run

    run = load_run(args.run_dir, args.checkpoint)
    data_dir = run.config.data.dir
    evaluator = get_evaluator(data_dir)
    real = _collect_real(data_dir, "test", 400)
    groups = {}
    for index, name in enumerate(run.manifest.attribute_names):
        groups.setdefault(name.split("=")[0], []).append(index)
    captions = [c.decode() for c in real["captions"]]
    free = [i for i, c in enumerate(captions) if "background" not in c][:24]
    named = [i for i, c in enumerate(captions) if "background" in c][:24]
    rng = np.random.default_rng(0)
    z_dim = run.model_config.z_dim

    def predicted(images, group):
        return evaluator.predict(images)["attr_probs"][:, groups[group]].argmax(1)

    def truth(index, group):
        return real["attributes"][index][groups[group]].argmax()

    spread, named_ok, color_ok, class_ok = [], [], [], []
    for index in free + named:
        embeddings = np.repeat(real["embeddings"][index][None], args.seeds, 0)
        noise = rng.standard_normal((args.seeds, z_dim)).astype(np.float32)
        images = np.asarray(run.gan.generate({"embeddings": embeddings}, noise=noise))
        out = evaluator.predict(images)
        background = out["attr_probs"][:, groups["background"]].argmax(1)
        if index in free:
            share = np.bincount(background, minlength=3) / len(background)
            share = share[share > 0]
            spread.append(float(-(share * np.log(share)).sum() / np.log(3)))
        else:
            named_ok.append(float((background == truth(index, "background")).mean()))
        colors = out["attr_probs"][:, groups["color"]].argmax(1)
        color_ok.append(float((colors == truth(index, "color")).mean()))
        class_ok.append(float((out["probs"].argmax(1) == real["labels"][index]).mean()))
    result = {
        "step": run.step,
        "bg_spread": np.mean(spread),
        "bg_named": np.mean(named_ok),
        "color": np.mean(color_ok),
        "class": np.mean(class_ok),
    }

    embeddings = real["embeddings"][:32]
    z1, z2 = (rng.standard_normal((32, z_dim)).astype(np.float32) for _ in range(2))
    generator = run.gan.inference_generator
    for training in (False, True):
        a, b, c = (
            np.asarray(generator({"noise": z, "embeddings": e}, training=training))
            for z, e in ((z1, embeddings), (z2, embeddings), (z1, np.roll(embeddings, 1, 0)))
        )
        mode = "train_mode_" if training else ""
        result[f"{mode}z_change"] = float(np.abs(a - b).mean())
        result[f"{mode}c_change"] = float(np.abs(a - c).mean())

    if run.gan.style_encoder is not None:
        styles = real["images"][:64]
        others = np.roll(np.arange(64), 1)  # each style image gets another image's caption
        drawn = np.asarray(
            run.gan.transfer_style(styles, {"embeddings": real["embeddings"][others]})
        )
        background = predicted(drawn, "background")
        keep = np.array(["background" not in captions[j] for j in others])
        wanted = real["attributes"][:64][:, groups["background"]].argmax(1)
        result["st_bg_keep"] = float((background == wanted)[keep].mean())
        labels = evaluator.predict(drawn)["probs"].argmax(1)
        result["st_class"] = float((labels == real["labels"][others]).mean())
    print(json.dumps({k: round(float(v), 4) for k, v in result.items()}))


if __name__ == "__main__":
    main()

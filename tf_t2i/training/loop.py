"""The training loop: `strategy.run(train_step)` steps driving a `keras.callbacks.CallbackList`.

One custom loop serves every strategy (default, Mirrored, MultiWorkerMirrored,
TPU): each step is `strategy.run(gan.train_step, (batch,))` on a dataset from
`strategy.distribute_datasets_from_function`, and the per-replica metric
results are averaged with `strategy.reduce`. Keras 3's `Model.fit` fails under
MultiWorkerMirroredStrategy (keras-team/keras#20585: a PerReplica batch in its
symbolic build, scalar logs reduced on axis 0); this loop avoids the private
APIs a workaround would need. The callbacks are the same ones `Model.fit` runs.

Resuming is exact: the data of epoch e is `make_dataset(seed=epoch_seed(seed, e))`,
so a run restored at step s rebuilds epoch s // steps_per_epoch and skips the
batches already used.
"""

from __future__ import annotations

import dataclasses
import time

from tf_t2i.config import Config


@dataclasses.dataclass
class Phase:
    """One phase of training: the GAN, or the style encoder after it (G frozen).

    Attributes:
        train_fn: the per-replica step, batch dict -> dict of metric results.
        done: steps of this phase already done (restored from the checkpoint).
        steps: the phase's step budget.
        base: global step of the phase's step 0 (the GAN's steps precede the style phase).
        trackers: the metrics reset after each logging step (logs are interval means).
        epoch_salt: added to the epoch number to seed the phase's data order.
        gan: the ConditionalGAN whose own step this phase runs (train_fn is then unused):
            with model.d_steps > 1 it picks G's turn outside strategy.run.
    """

    train_fn: object
    done: int
    steps: int
    base: int
    trackers: list
    epoch_salt: int = 0
    gan: object = None


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffle seed of epoch `epoch`'s data (a resumed run rebuilds the same order)."""
    return (seed * 1_000_003 + epoch) % (2**31 - 1)


def make_step_fn(strategy, train_fn=None, gan=None):
    """A tf.function running one step on every replica: `train_fn` (a per-replica step on a
    batch dict), or the GAN's step (`gan`, which picks G's turn outside strategy.run);
    returns the global means of the per-replica metric results."""
    import tensorflow as tf

    from tf_t2i.training.gan_step import gan_step, replica_mean

    def poisoned(batch):  # the debugging switch train.nan_at_step
        return dict(batch, images=batch["images"] * float("nan"))

    @tf.function
    def step(iterator, poison):
        batch = next(iterator)
        transform = poisoned if poison else None
        if gan is not None:
            return gan_step(strategy, gan, batch, transform)

        def replica_step(replica_batch):
            return train_fn(poisoned(replica_batch) if poison else replica_batch)

        return replica_mean(strategy, strategy.run(replica_step, args=(batch,)))

    return step


class TrainingLoop:
    """Runs phases of steps on distributed epochs of the data set, calling the callbacks.

    The callbacks get `on_train_begin({"step": start_step})`, then
    `on_train_batch_end(i, logs)` with i counting the steps of this call from 0 (as
    Keras's batch index does within an epoch), logs a dict of Python floats (the
    step's metric results, images_per_sec, eta_sec, epoch), and `on_train_end`.
    A NonFiniteLossError from the NaN guard propagates, `on_train_end` not called.
    A stop request (`stop.requested`, stop.py) ends the loop after the step that
    is running; `on_train_end` is then called as at the end, and saves that step.

    Args:
        config: the resolved Config.
        strategy: the tf.distribute strategy the model was built under.
        data_dir: the data set directory.
        steps_per_epoch: batches of train.batch_size in one epoch of the split.
        callbacks: a keras.callbacks.CallbackList (its model set).
        start_step, last_step: the global steps training starts and ends at.
        stop: a stop.GracefulStop (or anything with `requested`), or None.
    """

    def __init__(
        self,
        config: Config,
        strategy,
        data_dir,
        steps_per_epoch,
        callbacks,
        start_step,
        last_step,
        stop=None,
    ):
        self.config = config
        self.strategy = strategy
        self.data_dir = data_dir
        self.steps_per_epoch = steps_per_epoch
        self.callbacks = callbacks
        self.start_step = start_step
        self.last_step = last_step
        self.stop = stop
        self.clock = {"start": time.monotonic(), "steps": 0, "rate": 0.0, "first": True}
        self.examples = {}  # input pipeline id -> its cached decoded examples (data.cache)

    def run(self, phases: list[Phase], log) -> int:
        """Runs every phase in order; returns the last completed global step."""
        self.callbacks.on_train_begin({"step": self.start_step})
        step = self.start_step
        for index, phase in enumerate(phases):
            if phase.done >= phase.steps or self.stopping():
                continue
            if index:  # Reed sec. 4.4: the style encoder learns after the GAN, with G frozen
                log(f"style encoder: steps {phase.done}->{phase.steps} (G frozen)")
            self.clock["first"] = True  # a phase's first step traces its graph
            step = max(step, self.run_phase(phase))
        self.callbacks.on_train_end({"step": step})
        return step

    def epoch_iterator(self, epoch: int, offset: int):
        """An iterator over epoch `epoch`'s distributed batches, its first `offset` skipped."""
        from tf_t2i.data.input import make_dataset, pipeline_seed, read_examples

        config, train = self.config, self.config.train

        def dataset_fn(input_context):
            examples = None
            if config.data.cache:
                # one cache per input pipeline for the whole run: each epoch's dataset
                # reads it, so the split is read and decoded once, not once per epoch
                key = input_context.input_pipeline_id
                if key not in self.examples:
                    self.examples[key] = read_examples(
                        self.data_dir,
                        config.data.split,
                        seed=pipeline_seed(train.seed, input_context),
                        cache=config.data.cache,
                        input_context=input_context,
                    )
                examples = self.examples[key]
            dataset = make_dataset(
                self.data_dir,
                config.data.split,
                train.batch_size,
                image_size=config.model.image_size,
                training=True,
                seed=epoch_seed(train.seed, epoch),
                repeat=True,  # an epoch is steps_per_epoch batches; shards never run dry
                caption_average=config.data.caption_average,
                drop_remainder=True,
                input_context=input_context,
                examples=examples,
            )
            # each global step takes one batch per replica that this pipeline feeds
            per_step = input_context.num_replicas_in_sync // input_context.num_input_pipelines
            return dataset.skip(offset * per_step)

        return iter(self.strategy.distribute_datasets_from_function(dataset_fn))

    def run_phase(self, phase: Phase) -> int:
        """Runs steps done+1..steps of one phase; returns its last global step."""
        train = self.config.train
        step_fn = make_step_fn(self.strategy, phase.train_fn, phase.gan)
        poison_at = train.nan_at_step
        done = phase.done
        while done < phase.steps:
            epoch, offset = divmod(done, self.steps_per_epoch)
            iterator = self.epoch_iterator(epoch + phase.epoch_salt, offset)
            for _ in range(offset, min(self.steps_per_epoch, offset + phase.steps - done)):
                poison = bool(poison_at) and phase.base + done + 1 == poison_at
                logs = {key: float(value) for key, value in step_fn(iterator, poison).items()}
                done += 1
                step = phase.base + done
                logs.update(self.timing(step), epoch=float(epoch))
                self.callbacks.on_train_batch_end(step - self.start_step - 1, logs)
                if step % train.log_every == 0:
                    for tracker in phase.trackers:
                        tracker.reset_state()  # logged values are means over one log interval
                    self.clock.update(start=time.monotonic(), steps=0)
                if self.stopping():
                    return phase.base + done
        return phase.base + done

    def stopping(self) -> bool:
        """Whether a stop was requested (a signal, stop.py)."""
        return self.stop is not None and self.stop.requested is not None

    def timing(self, step: int) -> dict:
        """images_per_sec and eta_sec after `step`; the first step of a phase (tracing) is
        left out of the rate."""
        batch_size = self.config.train.batch_size
        clock = self.clock
        now = time.monotonic()
        clock["steps"] += 1
        if clock["first"]:
            clock.update(start=now, steps=0, first=False)
        elif now > clock["start"]:
            clock["rate"] = clock["steps"] * batch_size / (now - clock["start"])
        rate = clock["rate"]
        eta = (self.last_step - step) * batch_size / rate if rate else float("nan")
        return {"images_per_sec": rate, "eta_sec": eta}

"""SavedModel export for TF Serving: `t2i export`.

savedmodel.py      a trained run -> savedmodels/NAME/<version>/ (atomic, never overwrites)
serving_module.py  the tf.Module whose endpoints become the SavedModel's signatures
ops.py             graph ops shared by the SavedModel and in-process generation
layout.py          TF Serving's on-disk layout: ROOT/NAME/<version>/saved_model.pb
warmup.py          TF Serving warm-up requests (assets.extra/)
model_card.py      the model card written beside each export

tf_t2i/serving/ runs what this writes (server, clients, `t2i generate` backends).
"""

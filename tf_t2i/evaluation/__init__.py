"""Evaluation: one fixed protocol for image quality and condition fidelity.

metrics.py    FID, KID, IS-style score, conditional accuracy, diversity (pure NumPy)
metric_registry.py  the metrics by name: MetricInputs -> compute_metrics(names)
groups.py     attribute groups ("background=white"), which a caption names or leaves free
style.py      style metrics: spread of the free style groups over seeds, style transfer
zero_shot.py  accuracy on the classes a data set held out of training
evaluator.py  the per-data-set CNN whose features and posteriors the metrics use
evaluator_training.py  training it (`t2i evaluator train`) and saving it beside the data
inception.py  Inception-v3 ImageNet features, from local weights only
evaluate.py   the protocol: `run_protocol`, and `evaluate_gan` for `t2i fit`
sources.py    what `t2i evaluate` evaluates (run dir or SavedModel), where figures go
inception_graph.py  TF's 2015 Inception GraphDef (pool_3), the original FID network
published.py  FID as published tables compute it: `t2i evaluate --protocol`
"""

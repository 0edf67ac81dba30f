"""Evaluation: one fixed protocol for image quality and condition fidelity.

metrics.py    FID, KID, IS-style score, conditional accuracy, diversity (NumPy), by name
groups.py     attribute groups ("background=white"), which a caption names or leaves free
style.py      style metrics: spread of the free style groups over seeds, style transfer
zero_shot.py  accuracy on the classes a data set held out of training
evaluator.py  the per-data-set CNN whose features and posteriors the metrics use
inception.py  Inception-v3 ImageNet features, from local weights only
evaluate.py   the protocol: `t2i evaluate`, and `evaluate_gan` for `t2i fit`
inception_graph.py  TF's 2015 Inception GraphDef (pool_3), the original FID network
published.py  FID as published tables compute it: `t2i evaluate --protocol`
"""

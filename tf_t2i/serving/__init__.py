"""Running exported models: a TF-Serving-compatible server, its clients, generation backends.

server.py       REST server answering TF Serving's API for savedmodels/ (`t2i serve`)
grpc_server.py  TF Serving's gRPC PredictionService.Predict (`t2i serve --grpc-port`)
registry.py     the models and versions a server offers (load policy, failures by path)
rest_json.py    TF Serving's REST JSON tensor format, both ways (server and client)
client.py       REST and gRPC clients for TF Serving or `t2i serve`
backends.py     where `t2i generate` gets images from: a run dir, a SavedModel, a server

export/ writes the SavedModels these serve (savedmodel.py, serving_module.py, layout.py).
"""

"""Deploy bundles: per target, what an app developer needs to ship the model and prove their port matches.

``edgekd bundle RUN_DIR --target NAME`` writes ``RUN_DIR/bundles/NAME/`` (and ``NAME.zip``): every deployed
artifact with its sidecar (schema ``edgekd.artifact/2``) and golden vectors, a model card, and for
microcontroller targets the model as a C array with a header of the front-end constants and the arena size,
and for an audio model the front-end in C99 (``edgekd.bundle.cfrontend``).
"""

"""The checks under each graded exercise: they print a pass message or raise CheckFailed with a hint.

- ``blocks``: the blocks of notebooks 02, 03 and 05, described as data and checked by one engine;
- ``models``: notebook 04's ResNet-50 and its training, notebook 05's builder and its table;
- ``numpy_checks``: notebook 01's NumPy block, forward and backward;
- ``transfer``: notebook 06's fine-tuning set-up (what to freeze, BatchNorm in inference mode, the learning rate);
- ``tracing`` records the layers a block calls; ``messages`` holds the words the checks share.

Nothing is imported here: notebook 01's checks must not pull in TensorFlow.
"""

"""The inputs of the hand-made offline training sets (tests/test_estimators_offline.py,
tests/test_estimators_offline_schema.py): 12 runs on one GPU, their GFLOPs, image and batch sizes and RAM."""

GFLOPS = [0.5, 1.2, 2.0, 3.1, 4.4, 5.0, 6.3, 7.7, 8.1, 9.0, 9.6, 10.0]
IMAGE = [75, 128, 224, 75, 128, 224, 224, 75, 128, 128, 224, 75]
BATCH = [32, 64, 256, 64, 32, 256, 32, 256, 64, 256, 64, 32]
RAM = [16, 32, 16, 32, 32, 16, 32, 16, 16, 32, 16, 32]

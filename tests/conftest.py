"""Tests run on one thread: tiny models gain nothing from more, and a shared or loaded machine
loses a lot to oversubscribed threads. Worker subprocesses set OMP_NUM_THREADS=1 themselves."""

import torch

torch.set_num_threads(1)

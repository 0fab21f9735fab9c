"""Sequence / PyDataset: the batch protocol, constructor arguments, iteration, errors."""

import itertools

import numpy as np
import pytest

from fastkeras.utils.data_utils import PyDataset, Sequence


class Batches(Sequence):
    def __init__(self, x, y, batch_size, **kwargs):
        super().__init__(**kwargs)
        self.x, self.y, self.batch_size = x, y, batch_size
        self.epochs_ended = 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, index):
        s = slice(index * self.batch_size, (index + 1) * self.batch_size)
        return self.x[s], self.y[s]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_pydataset_is_sequence():
    assert PyDataset is Sequence


def test_batches_cover_the_data_in_order():
    x, y = np.arange(10), np.arange(10) * 2
    ds = Batches(x, y, 4)
    assert len(ds) == ds.num_batches == 3
    batches = list(ds)
    assert [len(b[0]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)
    ds.on_epoch_end()
    assert ds.epochs_ended == 1
    assert Sequence.on_epoch_begin(ds) is None


def test_constructor_arguments():
    ds = Batches(np.arange(3), np.arange(3), 2, workers=4, use_multiprocessing=True,
                 max_queue_size=3)
    assert (ds.workers, ds.use_multiprocessing, ds.max_queue_size) == (4, True, 3)
    default = Batches(np.arange(3), np.arange(3), 2)
    assert (default.workers, default.use_multiprocessing, default.max_queue_size) == (1, False, 10)
    default.workers = 2
    assert default.workers == 2


def test_missing_super_call_warns_and_uses_defaults():
    class NoSuper(Sequence):
        def __init__(self):
            self.n = 2

        def __len__(self):
            return self.n

        def __getitem__(self, index):
            return index

    ds = NoSuper()
    with pytest.warns(UserWarning, match=r"should call `super\(\).__init__\(\*\*kwargs\)`"):
        assert ds.workers == 1
    assert ds.max_queue_size == 10 and ds.use_multiprocessing is False


def test_endless_dataset():
    class Endless(Sequence):
        num_batches = None

        def __getitem__(self, index):
            return index * index

    assert list(itertools.islice(Endless(), 4)) == [0, 1, 4, 9]


def test_errors():
    class NoGetItem(Sequence):
        def __len__(self):
            return 1

    with pytest.raises(NotImplementedError, match="must implement `__getitem__"):
        list(NoGetItem())

    class NoLen(Sequence):
        def __getitem__(self, index):
            return index

    with pytest.raises(NotImplementedError, match="must implement `__len__`"):
        NoLen().num_batches
    with pytest.raises(ValueError, match="`workers` must be a non-negative integer"):
        Sequence(workers=-1)
    with pytest.raises(ValueError, match="`max_queue_size` must be a non-negative integer"):
        Sequence(max_queue_size=2.5)
    with pytest.raises(ValueError, match="`use_multiprocessing` must be a bool"):
        Sequence(use_multiprocessing="yes")

"""Framework-neutral dataset loaders: MNIST, Fashion-MNIST and CIFAR-10 as NumPy arrays.

``bnlab.keras.datasets`` (Keras signatures) and the torchvision-style API build on these functions::

    from bnlab.datasets import mnist, fashion_mnist, cifar10
    (x_train, y_train), (x_test, y_test) = mnist.load_data()        # what Keras returns, uint8

    mnist.load_idx_dir("/some/folder")          # a folder of the four IDX files (gzipped or raw)
    cifar10.load_archive("cifar-10-python.tar.gz")
    download("fashion_mnist", "/some/folder")   # fetch only the files missing there

Where files are looked for, in order:

1. the ``path=`` argument (a folder or a file);
2. ``$BNLAB_DATA_DIR`` (default ``~/.bnlab/datasets``), laid out as::

       mnist/             train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
       fashion-mnist/     t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (or without .gz)
       mnist.npz          Keras's single-file MNIST
       cifar-10-batches-py/  (data_batch_1..5, test_batch, batches.meta) or cifar-10-python.tar.gz
       cifar-10-batches-bin/ (data_batch_1.bin..5.bin, test_batch.bin) or cifar-10-binary.tar.gz

3. Keras's cache ``~/.keras/datasets`` (``$KERAS_HOME/datasets``), in Keras's layouts;
4. the system's copies (Debian's ``/usr/share/datasets/fashion-mnist``);
5. a download from the public mirror Keras uses into ``$BNLAB_DATA_DIR``, verified against the upstream
   size and SHA-256, written through a temporary file renamed only once complete.

Local files are checked structurally (magic numbers, dimensions, counts, complete lengths), not by
checksum. A malformed file raises :class:`DatasetFileError` (a ValueError) naming it; when nothing is
found, :class:`DatasetNotFoundError` (a FileNotFoundError) lists the places searched and where to put the
files.
"""

from . import cifar10, fashion_mnist, mnist
from ._download import download, fetch_file
from ._errors import DatasetFileError, DatasetNotFoundError, DownloadError
from ._idx import read_idx_images, read_idx_labels
from ._npz import read_mnist_npz
from ._sources import data_dir, keras_cache_dir

__all__ = [
    "DatasetFileError",
    "DatasetNotFoundError",
    "DownloadError",
    "cifar10",
    "data_dir",
    "download",
    "fashion_mnist",
    "fetch_file",
    "keras_cache_dir",
    "mnist",
    "read_idx_images",
    "read_idx_labels",
    "read_mnist_npz",
]

"""skorch pieces shared by skecg's networks (:class:`~skecg.models.ECGClassifier`,
:class:`~skecg.segmentation.WaveSegmenter`)."""

from __future__ import annotations

from skorch.callbacks import EarlyStopping, EpochTimer, PassthroughScoring, PrintLog, ProgressBar


def silent(*args, **kwargs):
    """A picklable sink that prints nothing (early-stopping messages)."""


def default_callbacks(net, *, validation: bool, early_stopping=EarlyStopping, sink=silent, extra=()) -> list:
    """The default skorch callbacks of a skecg net, in order: epoch timer, training
    loss, then with ``validation`` the validation loss and (when ``net.patience``)
    early stopping on it that restores the best weights, then ``extra`` (e.g. a
    learning-rate schedule), a progress bar (``net.progress_bar``) and the printed
    log (``net.verbose``).

    Parameters
    ----------
    net : skorch NeuralNet
        Read for ``patience``, ``progress_bar`` and ``verbose``.
    validation : bool
        Whether the net scores a validation part.
    early_stopping : class, default=skorch.callbacks.EarlyStopping
    sink : callable, default=silent
        Where early stopping writes its message.
    extra : sequence of (name, callback)

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> net = SimpleNamespace(patience=5, progress_bar=False, verbose=0)
    >>> [name for name, _ in default_callbacks(net, validation=True)]
    ['epoch_timer', 'train_loss', 'valid_loss', 'early_stopping']
    """
    cbs = [("epoch_timer", EpochTimer()),
           ("train_loss", PassthroughScoring(name="train_loss", on_train=True))]
    if validation:
        cbs.append(("valid_loss", PassthroughScoring(name="valid_loss")))
        if net.patience:
            cbs.append(("early_stopping", early_stopping(monitor="valid_loss", patience=int(net.patience),
                                                         load_best=True, sink=sink)))
    cbs.extend(extra)
    if net.progress_bar:
        cbs.append(("progress_bar", ProgressBar()))
    if net.verbose:
        cbs.append(("print_log", PrintLog()))
    return cbs

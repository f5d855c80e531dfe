"""The arithmetic behind the verdicts (trainer/ml/verdicts.py), NumPy only: the two distances that say
"none of these" and the linear head whose held-out margins say "not sure".

- Mahalanobis distance to the nearest class mean, with one covariance shared by every class and shrunk
  towards a multiple of the identity by the Ledoit-Wolf formula (Lee et al. 2018; Ledoit and Wolf 2004):
  with 1,280 features and a few thousand photos the plain covariance is singular or nearly so.
- Cosine distance to the nearest training photo (KNN with k=1 on L2-normalised features; Sun et al. 2022).
"""

import numpy as np

# A softmax head refitted on the features as catdog trains its MobileNetV2 head (trainer/ml/model.py:
# dropout 0.5 then one dense layer, Adam at 1e-3, batches of 32, 20 epochs), so that its margins on
# photos it did not see resemble the served head's margins on new photos.
HEAD_EPOCHS = 20
HEAD_BATCH = 32
HEAD_LEARNING_RATE = 1e-3
HEAD_DROPOUT = 0.5
# Rows of features compared at a time in the nearest-neighbour search: bounds the memory of large fits.
_CHUNK = 1024
# Up to this many photos, products run in NumPy's own single-threaded loops rather than in BLAS. In the
# prediction worker BLAS's threads fight TensorFlow's, which still spin after answering: on two cores the
# verdict of one photo took 8 ms through BLAS, 1.5 ms without. Larger batches (fitting) are faster in BLAS.
_SMALL_BATCH = 32


def ledoit_wolf(features: np.ndarray, labels: np.ndarray, means: np.ndarray) -> np.ndarray:
    """The Ledoit-Wolf shrunk covariance of the features around their class means, as float64 (d, d).

    Summed a chunk of rows at a time: memory stays two d x d matrices whatever the number of photos. The
    formula's sum over the squared entries of each row's outer product is the row's squared norm, squared.
    """
    n, d = features.shape
    covariance = np.zeros((d, d))
    fourth_powers = 0.0
    for start in range(0, n, _CHUNK):
        rows = slice(start, start + _CHUNK)
        x = features[rows].astype(np.float64) - means[labels[rows]]
        covariance += x.T @ x
        fourth_powers += float(np.sum(np.sum(x**2, axis=1) ** 2))
    covariance /= n
    mu = np.trace(covariance) / d
    beta = fourth_powers / n - np.sum(covariance**2)
    covariance[np.diag_indices(d)] -= mu
    delta = np.sum(covariance**2) / d  # the distance to mu times the identity, computed in place
    covariance[np.diag_indices(d)] += mu
    beta = min(beta / (d * n), delta)
    shrinkage = 0.0 if delta == 0 else beta / delta
    covariance *= 1 - shrinkage
    covariance[np.diag_indices(d)] += shrinkage * mu
    return covariance


def whitening(features: np.ndarray, labels: np.ndarray, classes: int) -> tuple[np.ndarray, np.ndarray]:
    """Class means (classes, d) and a matrix W (d, d) such that |x W - m W|^2 is the squared Mahalanobis
    distance of x to mean m under the shared shrunk covariance."""
    means = np.stack([features[labels == c].mean(axis=0, dtype=np.float64) for c in range(classes)])
    covariance = ledoit_wolf(features, labels, means)
    values, vectors = np.linalg.eigh(covariance)
    if values.max() <= 1e-12:
        # One photo per class (a fold of a tiny dataset): no spread to measure, so plain Euclidean distance.
        return means.astype(np.float32), np.eye(len(covariance), dtype=np.float32)
    # Features that never vary give zero eigenvalues: floor them rather than divide by zero.
    matrix = vectors / np.sqrt(np.maximum(values, values.max() * 1e-9))
    return means.astype(np.float32), matrix.astype(np.float32)


def _product(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a @ b for float32 arrays, outside BLAS for small batches (see _SMALL_BATCH)."""
    if len(a) <= _SMALL_BATCH:
        return np.einsum("ij,jk->ik", a, b)
    return a @ b


def whitened(means: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The class means in whitened space, as `mahalanobis` compares each photo with them."""
    return _product(means, matrix)


def mahalanobis(
    features: np.ndarray, means: np.ndarray, matrix: np.ndarray, centres: np.ndarray | None = None
) -> np.ndarray:
    """Each row's squared Mahalanobis distance to the nearest class mean; `centres`, `whitened(means, matrix)`,
    when the caller keeps them."""
    z = _product(features.astype(np.float32), matrix)
    centres = whitened(means, matrix) if centres is None else centres
    squared = (z**2).sum(axis=1, keepdims=True) - 2 * _product(z, centres.T) + (centres**2).sum(axis=1)
    return np.maximum(squared.min(axis=1), 0.0)


def normalised(features: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (an all-zero row stays zero), as float32."""
    x = features.astype(np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(norms, 1e-12)


def nearest_cosine(features: np.ndarray, reference: np.ndarray, *, columns: bool = False) -> np.ndarray:
    """Each row's cosine distance (1 - cosine similarity) to its nearest row of `reference` (unit rows); with
    `columns`, `reference` holds them as its columns (d, m), which the product reads fastest when contiguous."""
    x = normalised(features)
    by_column = reference if columns else reference.T
    best = np.empty(len(x), dtype=np.float32)
    for start in range(0, len(x), _CHUNK):
        best[start : start + _CHUNK] = _product(x[start : start + _CHUNK], by_column).max(axis=1)
    return 1.0 - best


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def margins(probabilities: np.ndarray) -> np.ndarray:
    """Top-1 minus top-2 probability of each row: how far the answer is from a toss-up."""
    top = np.sort(probabilities, axis=1)
    return top[:, -1] - top[:, -2]


def fit_head(features: np.ndarray, labels: np.ndarray, classes: int, rng: np.random.Generator):
    """A dense softmax layer trained like catdog's head (see HEAD_*): returns (kernel, bias)."""
    n, d = features.shape
    x = features.astype(np.float32)
    onehot = np.eye(classes, dtype=np.float32)[labels]
    params = [np.zeros((d, classes), np.float32), np.zeros(classes, np.float32)]
    params[0][:] = rng.uniform(-1, 1, (d, classes)) * np.sqrt(6 / (d + classes))  # Glorot, as Keras
    moments = [[np.zeros_like(p), np.zeros_like(p)] for p in params]
    step = 0
    for _ in range(HEAD_EPOCHS):
        order = rng.permutation(n)
        for start in range(0, n, HEAD_BATCH):
            batch = order[start : start + HEAD_BATCH]
            kept = rng.random((len(batch), d)) >= HEAD_DROPOUT
            inputs = x[batch] * kept / (1 - HEAD_DROPOUT)
            error = (softmax(inputs @ params[0] + params[1]) - onehot[batch]) / len(batch)
            step += 1
            for param, moment, grad in zip(params, moments, (inputs.T @ error, error.sum(axis=0)), strict=True):
                _adam(param, moment, grad, step)
    return params[0], params[1]


def _adam(param: np.ndarray, moment: list[np.ndarray], grad: np.ndarray, step: int) -> None:
    """One Adam update in place, with Keras's defaults (beta 0.9 and 0.999, epsilon 1e-7)."""
    moment[0] += 0.1 * (grad - moment[0])
    moment[1] += 0.001 * (grad**2 - moment[1])
    first = moment[0] / (1 - 0.9**step)
    second = moment[1] / (1 - 0.999**step)
    param -= HEAD_LEARNING_RATE * first / (np.sqrt(second) + 1e-7)


def stratified_folds(labels: np.ndarray, folds: int, rng: np.random.Generator) -> np.ndarray:
    """Each photo's fold (0..folds-1), every class spread evenly over the folds."""
    fold = np.empty(len(labels), dtype=np.int64)
    offset = 0
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        fold[members] = (np.arange(len(members)) + offset) % folds
        offset += len(members)
    return fold


def stratified_subset(labels: np.ndarray, limit: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most `limit` photos, each class keeping its share (at least one photo)."""
    if len(labels) <= limit:
        return np.arange(len(labels))
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = max(1, int(limit * len(members) / len(labels)))
        chosen.append(rng.choice(members, size=take, replace=False))
    return np.sort(np.concatenate(chosen))

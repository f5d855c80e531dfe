"""The served model (trainer/ml/serving.py): one call gives the trained model's probabilities, the features
its head reads and the maps they are pooled from; and the heatmap computed from them without gradients
(trainer/ml/heatmaps.py) is Grad-CAM as TensorFlow's own gradients give it."""

import numpy as np
import pytest

from trainer.ml.heatmaps import DenseLayer, class_activation_maps

pytestmark = pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")


@pytest.fixture(scope="module", params=["simple_cnn", "mobilenet_v2"])
def trained_like(request):
    """A model of each architecture with random but fixed weights, at a small size."""
    import keras

    from trainer.ml.model import make_model

    keras.utils.set_random_seed(3)
    model = make_model(request.param, (64, 64, 3), 3, augmentation="strong", weights=None)
    # The heads start near uniform: give them weights that make the classes differ, as training would.
    for layer in model.get_layer("head").layers:
        if layer.weights:
            kernel, bias = layer.get_weights()
            layer.set_weights([np.random.default_rng(5).normal(0, 0.5, kernel.shape).astype("float32"), bias])
    return model


@pytest.fixture(scope="module")
def pixels():
    rng = np.random.default_rng(11)
    return rng.integers(0, 256, (4, 64, 64, 3)).astype("float32")


def test_the_served_model_gives_the_trained_models_probabilities_and_its_heads_features(trained_like, pixels):
    from trainer.ml.serving import serving_model

    served = serving_model(trained_like).predict(pixels, verbose=0)
    np.testing.assert_allclose(served["probabilities"], trained_like.predict(pixels, verbose=0), atol=1e-6)
    encoder_input = trained_like.get_layer("rescaling")(pixels)
    np.testing.assert_allclose(served["features"], trained_like.get_layer("encoder")(encoder_input), atol=1e-5)
    maps = served["feature_maps"]
    assert maps.ndim == 4 and maps.shape[0] == 4 and maps.shape[-1] == served["features"].shape[-1]
    np.testing.assert_allclose(maps.mean(axis=(1, 2)), served["features"], atol=1e-5)


def test_the_heatmap_is_grad_cam_as_tensorflows_gradients_give_it(trained_like, pixels):
    import tensorflow as tf

    from trainer.ml.serving import head_layers, serving_model

    served = serving_model(trained_like)
    outputs = served.predict(pixels, verbose=0)
    classes = outputs["probabilities"].argmax(axis=1)
    ours = class_activation_maps(outputs["feature_maps"], outputs["features"], head_layers(trained_like), classes)

    maps = tf.constant(outputs["feature_maps"])
    head = trained_like.get_layer("head")
    with tf.GradientTape() as tape:
        tape.watch(maps)
        pooled = tf.reduce_mean(maps, axis=(1, 2))
        # The score Grad-CAM follows: the last layer's input to its softmax.
        hidden = pooled
        for layer in head.layers[:-1]:
            hidden = layer(hidden, training=False)
        last = head.layers[-1]
        logits = tf.matmul(hidden, last.kernel) + last.bias
        score = tf.reduce_sum(tf.gather(logits, classes, batch_dims=1))
    gradients = tape.gradient(score, maps).numpy()
    weights = gradients.mean(axis=(1, 2))  # Grad-CAM: each map weighed by its mean gradient
    expected = np.maximum(np.einsum("nhwk,nk->nhw", outputs["feature_maps"], weights), 0)
    expected /= np.maximum(expected.reshape(len(expected), -1).max(axis=1), 1e-12)[:, None, None]
    np.testing.assert_allclose(ours, expected, atol=1e-4)
    assert ours.max() == pytest.approx(1.0)


def test_a_one_layer_head_gives_cam_the_classes_weights_on_the_maps():
    rng = np.random.default_rng(0)
    maps = rng.random((1, 3, 3, 4)).astype("float32")
    kernel = np.array([[1, 0], [0, 1], [-1, 0], [0, 0]], dtype="float32")
    head = [DenseLayer(kernel, np.zeros(2, "float32"), "softmax")]
    (heatmap,) = class_activation_maps(maps, maps.mean(axis=(1, 2)), head, np.array([0]))
    cam = np.maximum(maps[0, ..., 0] - maps[0, ..., 2], 0)
    np.testing.assert_allclose(heatmap, cam / cam.max(), atol=1e-6)


def test_a_head_with_a_layer_it_cannot_follow_is_refused():
    from trainer.ml.heatmaps import _score_gradient

    head = [DenseLayer(np.ones((2, 2), "float32"), np.zeros(2, "float32"), "tanh")] * 2
    with pytest.raises(ValueError, match="tanh"):
        _score_gradient(np.ones(2, "float32"), head, 0)

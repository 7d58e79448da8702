"""The article's own DCGAN code in TensorFlow/Keras (the TF DCGAN tutorial, its
models, losses and `tf.function` train step as published), for side-by-side
timing. TensorFlow is an optional extra (`pip install tensorflow-cpu`); without
it `available()` is False and the benchmark says it skipped these rows."""

from __future__ import annotations

import importlib.util
import os
from typing import Callable

BATCH, NOISE = 256, 100


def available() -> bool:
    return importlib.util.find_spec("tensorflow") is not None


def tf_article_dcgan_step(threads: int) -> tuple[Callable[[object], None], int]:
    """A step function of the tutorial's training loop on resident random images (content does not
    change the speed); the torch batch it is handed is ignored."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow loads
    # deferred: the optional `tf` extra
    import tensorflow as tf
    from tensorflow.keras import layers

    tf.config.threading.set_intra_op_parallelism_threads(threads)

    generator = tf.keras.Sequential(
        [
            tf.keras.Input((NOISE,)),
            layers.Dense(7 * 7 * 256, use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Reshape((7, 7, 256)),
            layers.Conv2DTranspose(128, (5, 5), strides=(1, 1), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(64, (5, 5), strides=(2, 2), padding="same", use_bias=False),
            layers.BatchNormalization(),
            layers.LeakyReLU(),
            layers.Conv2DTranspose(1, (5, 5), strides=(2, 2), padding="same", use_bias=False, activation="tanh"),
        ]
    )
    discriminator = tf.keras.Sequential(
        [
            tf.keras.Input((28, 28, 1)),
            layers.Conv2D(64, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Conv2D(128, (5, 5), strides=(2, 2), padding="same"),
            layers.LeakyReLU(),
            layers.Dropout(0.3),
            layers.Flatten(),
            layers.Dense(1),
        ]
    )
    cross_entropy = tf.keras.losses.BinaryCrossentropy(from_logits=True)
    generator_optimizer, discriminator_optimizer = tf.keras.optimizers.Adam(1e-4), tf.keras.optimizers.Adam(1e-4)
    images = tf.random.uniform((8192, 28, 28, 1), -1.0, 1.0)

    @tf.function
    def train_step(start):
        batch = images[start : start + BATCH]
        noise = tf.random.normal([BATCH, NOISE])
        with tf.GradientTape() as gen_tape, tf.GradientTape() as disc_tape:
            generated_images = generator(noise, training=True)
            real_output = discriminator(batch, training=True)
            fake_output = discriminator(generated_images, training=True)
            gen_loss = cross_entropy(tf.ones_like(fake_output), fake_output)
            disc_loss = cross_entropy(tf.ones_like(real_output), real_output) + cross_entropy(
                tf.zeros_like(fake_output), fake_output
            )
        gradients_of_generator = gen_tape.gradient(gen_loss, generator.trainable_variables)
        gradients_of_discriminator = disc_tape.gradient(disc_loss, discriminator.trainable_variables)
        generator_optimizer.apply_gradients(zip(gradients_of_generator, generator.trainable_variables))
        discriminator_optimizer.apply_gradients(zip(gradients_of_discriminator, discriminator.trainable_variables))
        return gen_loss

    position = [0]

    def step(_batch) -> None:
        start = position[0]
        position[0] = (start + BATCH) % (8192 - BATCH)
        train_step(tf.constant(start)).numpy()  # returns once the step has run

    return step, BATCH

package org.rpgnet;

/** What a ProgressListener gets every reportEvery updates and at the last one: updates done,
 * updates of the whole run, epochs done, loss per image of this update, its moving average,
 * learning rate, images per second. */
public record Progress(long update, long maxUpdates, double epoch, double loss, double avgLoss,
                       float learningRate, double imagesPerSecond) {}

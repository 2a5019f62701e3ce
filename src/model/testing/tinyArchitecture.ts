/**
 * The smallest architecture that still has every kind of block (one down- and one up-sampling level, attention at
 * the coarse level, shortcut convs, 2 groups): the unit tests of the model, the package and the engine share it.
 */
import { resolveArchitecture } from '../config';

export const TINY_ARCHITECTURE = resolveArchitecture({
  imageSize: 8,
  imageChannels: 1,
  baseChannels: 4,
  channelMultipliers: [1, 2],
  numResBlocks: 1,
  attentionLevels: [1],
  latentDim: 3,
  groupNormGroups: 2,
});

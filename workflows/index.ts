// The workflow bundle's entry: every workflow type a worker registers.
export { harvestRun, progressQuery, pauseSignal, resumeSignal } from './harvest-run.js';
export { trainDictionary, trainProgressQuery } from './train-dictionary.js';
export { featureStats, statsProgressQuery } from './feature-stats.js';

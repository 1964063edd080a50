// The workflow bundle's entry: every workflow type a worker registers.
export { harvestRun, progressQuery, pauseSignal, resumeSignal } from './harvest-run.js';

export { DEFAULT_BIND, MAX_RANGE, formatForward, isLoopback, parseForwardSpecs, sshForwardArg, type Forward } from './spec.js';
export { listForwards, startForwards, stopForwards, type ForwardReport } from './forward.js';
export type { ActiveForward } from './state.js';

export * from './detect.js';
export * from './lifecycle.js';
export * from './limits.js';
export * from './freeze.js';
export * from './destroy.js';
export * from './status.js';
export * from './units.js';
export * from './devices.js';

/** The workflows the worker registers; bundled for Temporal's sandbox, so nothing Node-only here. */
export { connectIntegration } from './connect-integration.js';

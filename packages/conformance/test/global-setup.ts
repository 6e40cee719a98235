/** Runs once before the conformance files: the targets' injected adapters get the current build. */
import { syncInjectedAdapters } from './targets.js';

export default function setup(): void {
  syncInjectedAdapters();
}

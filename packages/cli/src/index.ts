/**
 * @obs/cli: the `obs` command and the generators behind it, for use from code (e.g. to write the
 * files in a build step) and from tests.
 *
 * @packageDocumentation
 */
export {
  type CommandSpec,
  helpText,
  type OptionSpec,
  type Options,
  resolveOptions,
  UsageError,
} from './args.js';
export {
  type AlertmanagerSettings,
  alertmanagerSettings,
  buildAlertmanagerConfig,
  RECEIVERS,
  renderAlertmanagerConfig,
} from './commands/alertmanager.js';
export {
  ALERT_NAMES,
  type AlertingRule,
  type AlertsSettings,
  alertsSettings,
  buildRules,
  type RecordingRule,
  type RuleFile,
  type RuleGroup,
  recordingNames,
  renderRules,
} from './commands/alerts.js';
export {
  buildDashboard,
  DASHBOARD_VARIABLES,
  type DashboardSettings,
  dashboardMatchers,
  dashboardSettings,
  renderDashboard,
} from './commands/dashboard.js';
export { type DevIo, devCommand, runDev } from './commands/dev.js';
export { buildProbes, type K8sSettings, k8sSettings, probeTimeoutSeconds, renderProbes } from './commands/k8s.js';
export { COMMANDS, type MainIo, main, mainDev, mainHelp } from './main.js';
export * from './selectors.js';
export * from './slo.js';
export * from './units.js';

export {
  type AlertsConfig,
  AlertsConfigError,
  type AlertsConfigInput,
  DEFAULT_ALERTS_CONFIG,
  defineAlertsConfig,
} from './config.js';
export { renderFiles, toYaml } from './render.js';
export { type BuiltRules, buildRules } from './rules.js';

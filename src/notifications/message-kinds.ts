/** The messages a channel can be routed, with the severity each is sent at. */
export const ROUTABLE_KINDS = ['pipeline_success', 'pipeline_failure', 'pipeline_recovered', 'cost_alert', 'cost_alert_resolved'] as const;
export type RoutableKind = (typeof ROUTABLE_KINDS)[number];
export type MessageKind = RoutableKind | 'test' | 'digest';
export type Severity = 'INFO' | 'WARNING' | 'ERROR';

export const KIND_SEVERITY: Record<MessageKind, Severity> = {
  pipeline_success: 'INFO',
  pipeline_failure: 'ERROR',
  pipeline_recovered: 'INFO',
  cost_alert: 'WARNING',
  cost_alert_resolved: 'INFO',
  test: 'INFO',
  digest: 'INFO',
};

/** What a channel takes when its settings name no events: what a person must act on, not every success. */
export const DEFAULT_ROUTES: Route[] = [{ kind: 'pipeline_failure' }, { kind: 'pipeline_recovered' }, { kind: 'cost_alert' }, { kind: 'cost_alert_resolved' }];

export interface Route {
  kind: RoutableKind;
  /** `provider/domain/pipeline` patterns, `*` matching one segment; all pipelines when absent. */
  pipelines?: string[];
}

export const PIPELINE_PATTERN = /^[a-z0-9_*]{1,100}\/[a-z0-9_*]{1,100}\/[a-z0-9_*]{1,100}$/;

/** Whether a route takes a message of this kind about this pipeline (`undefined` for a cost event, which no pipeline filter excludes). */
export function routeTakes(route: Route, kind: RoutableKind, pipelineRoute: string | undefined): boolean {
  if (route.kind !== kind) return false;
  if (!route.pipelines || route.pipelines.length === 0 || pipelineRoute === undefined) return true;
  return route.pipelines.some((pattern) => matchesPattern(pattern, pipelineRoute));
}

function matchesPattern(pattern: string, pipelineRoute: string): boolean {
  const want = pattern.split('/');
  const have = pipelineRoute.split('/');
  return want.length === have.length && want.every((segment, i) => segment === '*' || segment === have[i]);
}

/** The step graph of a pipeline: `depends_on` checked and ordered. Pure, used at load and run time. */
export interface PlanStep {
  step_id: string;
  depends_on?: string[] | undefined;
}

/** Problems with the graph, each naming the step: unknown dependencies, self-dependencies, cycles. */
export function planProblems(steps: PlanStep[]): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const index = new Map<string, number>();
  steps.forEach((step, i) => {
    if (index.has(step.step_id)) problems.push({ path: `steps[${i}].step_id`, message: `duplicate step_id "${step.step_id}"` });
    else index.set(step.step_id, i);
  });
  steps.forEach((step, i) =>
    (step.depends_on ?? []).forEach((dependency, j) => {
      if (dependency === step.step_id) problems.push({ path: `steps[${i}].depends_on[${j}]`, message: `step "${step.step_id}" depends on itself` });
      else if (!index.has(dependency)) problems.push({ path: `steps[${i}].depends_on[${j}]`, message: `unknown step "${dependency}"; expected one of ${[...index.keys()].join(', ')}` });
    }),
  );
  if (problems.length === 0) {
    const cycle = findCycle(steps);
    if (cycle) problems.push({ path: `steps[${index.get(cycle[0] as string)}].depends_on`, message: `dependency cycle: ${cycle.join(' -> ')}` });
  }
  return problems;
}

function findCycle(steps: PlanStep[]): string[] | undefined {
  const dependencies = new Map(steps.map((step) => [step.step_id, step.depends_on ?? []]));
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (id: string): string[] | undefined => {
    if (state.get(id) === 'done') return undefined;
    if (state.get(id) === 'visiting') return [...stack.slice(stack.indexOf(id)), id];
    state.set(id, 'visiting');
    stack.push(id);
    for (const dependency of dependencies.get(id) ?? []) {
      const cycle = visit(dependency);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(id, 'done');
    return undefined;
  };
  for (const step of steps) {
    const cycle = visit(step.step_id);
    if (cycle) return cycle;
  }
  return undefined;
}

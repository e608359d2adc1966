import { expect } from 'vitest';
import { loadScenarioText, ScenarioLoadError, type ScenarioProblem } from '../../src/scenario/loader.js';

/** The located problems a scenario text is refused with (fails the test if it loads). */
export function scenarioProblems(text: string, file = 'x.yaml'): ScenarioProblem[] {
  try {
    loadScenarioText(text, file);
  } catch (e) {
    expect(e).toBeInstanceOf(ScenarioLoadError);
    expect((e as ScenarioLoadError).code).toBe('BAD_INPUT');
    return (e as ScenarioLoadError).problems;
  }
  throw new Error('expected the scenario to be rejected');
}

import type { ContainerItem } from '../model/container.js';
import type { AlertFacts } from './notify-groups.js';

/** Containers remembered: enough for every alert still being grouped or re-sent. */
const KEEP = 20_000;

/**
 * What grouping needs of an alert's container — its compose project and image — remembered as
 * the live state changes, so an alert about a container removed a moment ago is still grouped
 * with its project, without a read of the store in the notification path. Oldest forgotten first.
 */
export class ContainerFacts {
  readonly #facts = new Map<string, AlertFacts>();

  remember(item: ContainerItem): void {
    const key = `${item.engine}/${item.id}`;
    this.#facts.delete(key); // re-inserted: the newest at the end
    this.#facts.set(key, { project: item.compose?.project ?? null, image: item.image });
    if (this.#facts.size > KEEP) {
      const oldest = this.#facts.keys().next().value;
      if (oldest !== undefined) this.#facts.delete(oldest);
    }
  }

  get(engine: string, id: string | undefined): AlertFacts {
    return (
      (id === undefined ? undefined : this.#facts.get(`${engine}/${id}`)) ?? { project: null, image: null }
    );
  }
}

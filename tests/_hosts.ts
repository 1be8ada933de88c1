// Several hosts on this machine: network namespaces that a test makes itself, each with one
// address, joined by two bridges and a trunk between them, so that a test can cut one host off
// (its bridge port down: packets to it vanish, as behind a dead link) or split the hosts in two
// (the trunk down). Every address lives only inside these namespaces; nothing leaves them.
// The bridges pass multicast (the hosts' LAN discovery); a host can be given more addresses
// (a forger sending from many), or be made with loopback only (peers that share one machine).
// Needs root and iproute2: `Hosts.available()` says why not when it cannot run.

const decoder = new TextDecoder();

async function ip(...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("ip", { args, stderr: "piped" }).output();
  if (!success) throw new Error(`ip ${args.join(" ")}: ${decoder.decode(stderr).trim()}`);
}

/** A set of hosts; hosts `0 .. split-1` hang off one bridge, the rest off the other. */
export class Hosts {
  readonly count: number;
  readonly split: number;
  readonly #prefix: string;
  readonly #subnet: string;
  readonly #wired: boolean;
  #closed = false;

  private constructor(
    count: number,
    split: number,
    prefix: string,
    subnet: string,
    wired: boolean,
  ) {
    this.count = count;
    this.split = split;
    this.#prefix = prefix;
    this.#subnet = subnet;
    this.#wired = wired;
  }

  /** Null when hosts can be made here, else why not (for the test's skip message). */
  static async available(): Promise<string | null> {
    if (Deno.build.os !== "linux") return "network namespaces need Linux";
    // (`id -u` rather than Deno.uid(), which would need --allow-sys.)
    const id = await new Deno.Command("id", { args: ["-u"], stdout: "piped" }).output();
    if (new TextDecoder().decode(id.stdout).trim() !== "0") {
      return "making network namespaces needs root";
    }
    try {
      await new Deno.Command("ip", { args: ["-V"], stdout: "null" }).output();
    } catch {
      return "iproute2 (the ip command) is not installed";
    }
    return null;
  }

  /**
   * Makes `count` hosts. A namespace per host, named from the test's pid so that runs do not
   * collide, with address 10.<a>.<b>.<host + 1>/24 on a subnet chosen from the pid. Unless
   * `wired` is false: then each host has loopback only, and no bridge is made.
   */
  static async create(
    count: number,
    split = Math.ceil(count / 2),
    { wired = true }: { wired?: boolean } = {},
  ): Promise<Hosts> {
    const tag = (Deno.pid % 4096).toString(36) + Math.floor(Math.random() * 36 ** 2).toString(36);
    const subnet = `10.${100 + (Deno.pid % 100)}.${Math.floor(Math.random() * 250)}`;
    const hosts = new Hosts(count, split, `mt${tag}`, subnet, wired);
    try {
      await hosts.#build();
    } catch (error) {
      await hosts.close();
      throw error;
    }
    return hosts;
  }

  /** The address of host `i`. */
  address(i: number): string {
    return `${this.#subnet}.${i + 1}`;
  }

  /** The namespace of host `i`. */
  namespace(i: number): string {
    return `${this.#prefix}h${i}`;
  }

  /** A command run in host `i`'s namespace. */
  command(i: number, program: string, args: string[], options: Deno.CommandOptions = {}) {
    return new Deno.Command("ip", {
      ...options,
      args: ["netns", "exec", this.namespace(i), program, ...args],
    });
  }

  /**
   * Gives host `i` `count` more addresses on its link (10.<a>.<b>.101 and up, shared by every
   * host of the set: give them to one); returns them.
   */
  async addAddresses(i: number, count: number): Promise<string[]> {
    const added = Array.from({ length: count }, (_, k) => `${this.#subnet}.${101 + k}`);
    for (const address of added) {
      await ip("-n", this.namespace(i), "addr", "add", `${address}/24`, "dev", this.#link(i));
    }
    return added;
  }

  /** Cuts host `i` off (true) or plugs it back in (false): its bridge port goes down or up. */
  async unplug(i: number, unplugged: boolean): Promise<void> {
    await ip("-n", this.#bridges, "link", "set", this.#port(i), unplugged ? "down" : "up");
  }

  /**
   * Cuts host `i` off as a black hole: unplugged, while every other host still believes it is
   * there (a permanent neighbour entry with its hardware address). What they send it then leaves
   * and vanishes, as across a dead link beyond a router, so that a connect waits for an answer
   * that never comes; a plain unplug fails a connect after a few seconds of neighbour lookups
   * ("no route to host").
   */
  async blackhole(i: number): Promise<void> {
    const mac = await this.#hardwareAddress(i);
    await this.unplug(i, true);
    for (let other = 0; other < this.count; other++) {
      if (other === i) continue;
      await ip(
        "-n",
        this.namespace(other),
        "neigh",
        "replace",
        this.address(i),
        "lladdr",
        mac,
        "dev",
        this.#link(other),
        "nud",
        "permanent",
      );
    }
  }

  /** Splits the hosts in two at `split` (true), or joins them again (false). */
  async partition(split: boolean): Promise<void> {
    await ip("-n", this.#bridges, "link", "set", `${this.#prefix}ta`, split ? "down" : "up");
  }

  /** Removes every namespace (and with them every link and address). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (
      const ns of [
        this.#bridges,
        ...Array.from({ length: this.count }, (_, i) => this.namespace(i)),
      ]
    ) {
      await ip("netns", "del", ns).catch(() => {});
    }
  }

  /** Host `i`'s end of its link, inside its namespace. */
  #link(i: number): string {
    return `${this.#prefix}e${i}`;
  }

  get #bridges(): string {
    return `${this.#prefix}br`;
  }

  #port(i: number): string {
    return `${this.#prefix}p${i}`;
  }

  async #hardwareAddress(i: number): Promise<string> {
    const { success, stdout, stderr } = await new Deno.Command("ip", {
      args: ["-n", this.namespace(i), "-j", "link", "show", "dev", this.#link(i)],
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!success) throw new Error(`ip link show: ${decoder.decode(stderr).trim()}`);
    return JSON.parse(decoder.decode(stdout))[0].address;
  }

  async #build(): Promise<void> {
    if (!this.#wired) {
      for (let i = 0; i < this.count; i++) {
        await ip("netns", "add", this.namespace(i));
        await ip("-n", this.namespace(i), "link", "set", "lo", "up");
      }
      return;
    }
    const br = this.#bridges;
    await ip("netns", "add", br);
    for (const side of ["a", "b"]) {
      await ip("-n", br, "link", "add", `br${side}`, "type", "bridge");
      await ip("-n", br, "link", "set", `br${side}`, "up");
    }
    // The trunk between the two bridges: down, and the two halves cannot hear each other.
    await ip(
      "-n",
      br,
      "link",
      "add",
      `${this.#prefix}ta`,
      "type",
      "veth",
      "peer",
      "name",
      `${this.#prefix}tb`,
    );
    await ip("-n", br, "link", "set", `${this.#prefix}ta`, "master", "bra", "up");
    await ip("-n", br, "link", "set", `${this.#prefix}tb`, "master", "brb", "up");
    for (let i = 0; i < this.count; i++) {
      const ns = this.namespace(i);
      const inside = this.#link(i);
      await ip("netns", "add", ns);
      await ip("link", "add", inside, "type", "veth", "peer", "name", this.#port(i));
      await ip("link", "set", inside, "netns", ns);
      await ip("link", "set", this.#port(i), "netns", br);
      await ip(
        "-n",
        br,
        "link",
        "set",
        this.#port(i),
        "master",
        i < this.split ? "bra" : "brb",
        "up",
      );
      await ip("-n", ns, "addr", "add", `${this.address(i)}/24`, "dev", inside);
      await ip("-n", ns, "link", "set", inside, "up");
      await ip("-n", ns, "link", "set", "lo", "up");
    }
  }
}

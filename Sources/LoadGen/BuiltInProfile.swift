extension LoadProfile {
    /// The profile `flashsale run` uses without a profile argument: a 10-second kaigong-opening
    /// (the 10:00 rush on the kickoff bundle, plus a small reservation offer).
    public static let builtInDefault: LoadProfile = {
        do {
            return try LoadProfile.parse(yaml: builtInDefaultYAML, file: "<built-in default>")
        } catch {
            fatalError("the built-in default profile does not parse: \(error)")
        }
    }()

    /// The YAML text of `builtInDefault`.
    public static let builtInDefaultYAML = """
        # Built-in default: a 10-second version of LoadProfiles/kaigong-opening.yaml.
        name: kaigong-opening-short
        seed: 42
        duration: 10s

        campaign:
          window: { opens: "day 0 10:00", closes: "day 0 12:00" }
          regions: [east, north, south]
          items:
            - { id: pro-license, kind: license, stock: 20000 }
            - { id: attendance-m1-deli, kind: hardware, model: M1, vendor: deli, tier: 2, region: east, stock: 200000 }
            - { id: attendance-m1-comix, kind: hardware, model: M1, vendor: comix, tier: 1, region: north, stock: 30000 }
            - { id: subsidy, kind: subsidy, stock: 400000000 }
          offers:
            - id: kickoff-bundle
              kind: bundle
              components:
                - { item: pro-license, quantity: 1 }
                - { item: attendance-m1-deli, quantity: 10 }
                - { item: subsidy, quantity: 20000 }
              price: { list: 398000, discount: 50%, activation-extra: 5% }
              min-level: basic
              limit: 1
              max-quantity: 1
            - { id: m1-reserve, kind: reservation, model: M1, hold: 5m, min-level: basic, limit: 1, max-quantity: 5, price: { list: 29900 } }

        population:
          organisations: 200000
          certification: { none: 0.1, basic: 0.5, intermediate: 0.3, advanced: 0.1 }
          regions: { east: 0.5, north: 0.3, south: 0.2 }
          activated: 0.3

        traffic:
          start: "day 0 09:59:57"
          time-scale: 1
          phases:
            - { spike: { base: 2000/s, peak: 200k/s, at: 3s, rise: 1s }, for: 7s }
            - { ramp: { from: 200k/s, to: 20k/s }, for: 3s }
          popularity: { weights: { kickoff-bundle: 0.95, m1-reserve: 0.05 } }
          quantity: { 1: 0.97, 2: 0.03 }
          behaviour:
            retransmit: 0.02
            early: 0.01
            ineligible: 0.02
            confirm: 0.7
            cancel: 0.1
            confirm-delay: { uniform: [10s, 4m] }
        """
}

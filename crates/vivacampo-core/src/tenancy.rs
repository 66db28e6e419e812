//! Tenants (workspaces), their members' roles, plans and quotas.

use crate::wire_enum;

wire_enum!(
    /// A member's role in one tenant. Ordered: a higher role can do everything a lower one can.
    Role { Viewer => "VIEWER", Operator => "OPERATOR", TenantAdmin => "TENANT_ADMIN" }
);

impl Role {
    /// Whether this role is at least `required`.
    pub fn allows(self, required: Role) -> bool {
        self >= required
    }
}

wire_enum!(
    /// A company workspace shared by a team, or a personal one made at sign-up.
    TenantKind { Company => "COMPANY", Personal => "PERSONAL" }
);

wire_enum!(
    /// A suspended tenant's members can sign in but not use its resources.
    TenantStatus { Active => "ACTIVE", Suspended => "SUSPENDED" }
);

/// Per-tenant limits enforced when fields are created or reshaped.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Quotas {
    /// Maximum number of fields (AOIs).
    pub max_fields: i64,
    /// Maximum total area of all fields, hectares.
    pub max_hectares: f64,
}

impl Quotas {
    /// Default quotas for a new tenant of `kind`; system admins change them per tenant.
    pub fn default_for(kind: TenantKind) -> Quotas {
        match kind {
            TenantKind::Personal => Quotas {
                max_fields: 25,
                max_hectares: 10_000.0,
            },
            TenantKind::Company => Quotas {
                max_fields: 500,
                max_hectares: 200_000.0,
            },
        }
    }

    /// Checks that a tenant holding `fields` fields of `hectares` in total may grow by
    /// `extra_fields` fields and `extra_hectares` hectares. Returns a user-readable reason if not.
    pub fn check(
        &self,
        fields: i64,
        hectares: f64,
        extra_fields: i64,
        extra_hectares: f64,
    ) -> Result<(), String> {
        if extra_fields > 0 && fields + extra_fields > self.max_fields {
            return Err(format!(
                "field quota exceeded: {fields} of {} fields in use",
                self.max_fields
            ));
        }
        let total = hectares + extra_hectares;
        // Round to the 2 decimals areas are shown with, so 0.004 ha of float noise never refuses.
        if extra_hectares > 0.0 && (total * 100.0).round() > (self.max_hectares * 100.0).round() {
            return Err(format!(
                "area quota exceeded: {total:.2} ha would exceed the limit of {:.2} ha",
                self.max_hectares
            ));
        }
        Ok(())
    }
}

/// The plan a tenant starts on.
pub const DEFAULT_PLAN: &str = "BASIC";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_are_ordered() {
        assert!(Role::TenantAdmin.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Operator));
        assert!(!Role::Viewer.allows(Role::Operator));
    }

    #[test]
    fn wire_names_round_trip() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>().unwrap(), *role);
        }
        let err = "ADMIN".parse::<Role>().unwrap_err();
        assert!(err.to_string().contains("TENANT_ADMIN"));
    }

    #[test]
    fn quotas_refuse_growth_past_the_limit() {
        let q = Quotas {
            max_fields: 2,
            max_hectares: 100.0,
        };
        assert!(q.check(1, 50.0, 1, 50.0).is_ok());
        assert!(
            q.check(2, 50.0, 1, 1.0)
                .unwrap_err()
                .contains("field quota")
        );
        assert!(
            q.check(1, 50.0, 1, 50.01)
                .unwrap_err()
                .contains("area quota")
        );
        // Shrinking or reshaping within the limit is always fine.
        assert!(q.check(3, 500.0, 0, -10.0).is_ok());
    }
}

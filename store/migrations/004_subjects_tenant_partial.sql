-- 004: index subjects by tenant only where one is set (staff): customers have none, so a new customer no longer writes a page of this index; FindSubjects asks for tenant <> '' to use it
DROP INDEX subjects_tenant;
CREATE INDEX subjects_tenant ON subjects(tenant) WHERE tenant <> '';
